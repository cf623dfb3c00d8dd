"""Every refusal names the command and the flag that will do it anyway: `apply` for a plan that
apply runs (and for `rotate --apply`, which has no --force), `forget` for forget's own plan."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from octodns.provider.plan import UnsafePlan
from octodns.zone import Zone

from mailzone.cli.render.plan import Output, print_outcome_errors, print_plan_text
from mailzone.octo.guards import GuardHit
from mailzone.octo.ownership import Adoption, ZoneReport
from mailzone.octo.sync import ProviderCache, ZonePlan, ZoneTask, apply_zone

NOW = datetime(2026, 12, 6, tzinfo=UTC)
GUARD = GuardHit("dkim-delete", "deletes DKIM selector s1._domainkey.example.org")


class UnsafeChanges:
    """A plan that octoDNS's thresholds refuse (as `Plan.raise_if_unsafe` does)."""

    def __init__(self) -> None:
        self.changes: list[Any] = [object()]

    def raise_if_unsafe(self) -> None:
        raise UnsafePlan("Too many updates, 4/12 (33%), force required")


def zone_plan(command: str, **fields: Any) -> ZonePlan:
    zp = ZonePlan(ZoneTask("example.org", "local", []), plan=UnsafeChanges(), **fields)
    zp.command = command
    return zp


def refusal(zp: ZonePlan, tmp_path: Path) -> str:
    outcome = apply_zone(zp, ProviderCache(tmp_path), tmp_path / "backups", NOW)
    assert outcome.status == "error"
    assert not (tmp_path / "backups").exists()  # refused before anything was written
    return outcome.message


@pytest.mark.parametrize("command", ["apply", "forget"])
def test_guard_refusal_names_the_commands_force(tmp_path: Path, command: str) -> None:
    message = refusal(zone_plan(command, guard=[GUARD]), tmp_path)

    assert message == f"refused: {GUARD} ({command} --force to do it anyway)"


@pytest.mark.parametrize("command", ["apply", "forget"])
def test_threshold_refusal_names_the_commands_force(tmp_path: Path, command: str) -> None:
    message = refusal(zone_plan(command), tmp_path)

    assert message == (
        "refused by octoDNS's safety check: Too many updates, 4/12 (33%), force required "
        f"({command} --force to do it anyway)"
    )


@pytest.mark.parametrize(
    ("command", "hint"),
    [
        ("apply", "review them with plan, then apply --adopt"),
        ("forget", "review them with plan, then apply --adopt, then forget again"),  # no --adopt
    ],
)
def test_adoption_refusal_names_apply_adopt(tmp_path: Path, command: str, hint: str) -> None:
    adoption = Adoption("example.org", "", "MX", ("5 old.example.net.",), ("10 mail",), False)
    zp = zone_plan(command, report=ZoneReport(adoptions=[adoption]))

    assert refusal(zp, tmp_path) == (
        f"live records not created by mailzone would be replaced (MX @); {hint}"
    )


@pytest.mark.parametrize("command", ["apply", "forget"])
def test_printed_plan_names_the_commands_force_under_each_guard(command: str) -> None:
    out = io.StringIO()

    zp = zone_plan(command, guard=[GUARD])
    zp.plan = None  # the guard line alone (a plan's rows need real octoDNS changes)

    print_plan_text([zp], Output(out, io.StringIO()))

    assert f"  guard: {GUARD} ({command} needs --force)\n" in out.getvalue()


class SafeChanges:
    """A plan that passes every check, of a zone that holds nothing yet."""

    def __init__(self) -> None:
        self.changes: list[Any] = [object()]
        self.existing = Zone("example.org.", [])

    def raise_if_unsafe(self) -> None:
        return None


class FailingWrite:
    """A provider whose write times out (as a silent server's does)."""

    def apply(self, plan: Any) -> None:
        raise TimeoutError("The write operation timed out")


def test_a_failed_write_names_the_zone_once(tmp_path: Path) -> None:
    # given a plan that passes every check, and a provider whose write times out
    zp = ZonePlan(ZoneTask("example.org", "local", []), plan=SafeChanges())
    cache = ProviderCache(tmp_path)
    cache.get = lambda name: FailingWrite()  # type: ignore[method-assign]

    # when
    outcome = apply_zone(zp, cache, tmp_path / "backups", NOW)
    printed = io.StringIO()
    print_outcome_errors([outcome], Output(io.StringIO(), printed))

    # then the error line names the zone once
    assert printed.getvalue() == (
        "error: example.org: provider 'local': TimeoutError: The write operation timed out\n"
    )
