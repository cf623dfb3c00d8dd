"""The pre-filter's equivalence on a real server, shared by the BIND and PowerDNS tests: zones
applied then drifted, and `plan` with and without the pre-filter saying the same."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import pytest

from tests.cli import mailzone, write_provider
from tests.helpers import DANE_SPEC, basic_spec, dane_state, write_spec

INFO_LINE = re.compile(r"(\d+) of (\d+) zones unchanged by the pre-filter")


def apply_then_drift(
    root: Path,
    provider: str,
    config: dict[str, Any],
    zones: list[str],
    dane: Collection[int],
    drift: Callable[[int, str], None],
) -> None:
    """Specs for `zones` on `provider` (`dane:` with a current and a next key for the kinds
    `i % 30` in `dane`), applied, then `drift(i, zone)` for each."""
    write_provider(root, provider, config)
    for i, zone in enumerate(zones):
        with_dane = i % 30 in dane
        write_spec(root, zone, basic_spec(zone, provider, DANE_SPEC if with_dane else ""))
        if with_dane:
            (root / "state").mkdir(exist_ok=True)
            (root / "state" / f"{zone}.yaml").write_text(dane_state(zone))
    applied = mailzone(root, "apply", "--yes")
    assert applied.code == 0, applied.out + applied.err
    for i, zone in enumerate(zones):
        drift(i, zone)


def plans_agree(root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """Assert that `plan` says the same, byte for byte, with the pre-filter and without (some
    zones changing, one adopting); how many zones it took, of how many."""
    fast = mailzone(root, "plan", "--format", "json", "--exit-code")
    counted = mailzone(root, "-v", "plan", "--exit-code")
    monkeypatch.setenv("MAILZONE_NO_FASTPATH", "1")
    full = mailzone(root, "plan", "--format", "json", "--exit-code")

    assert full.code == 2, full.err
    assert fast.err == full.err
    planned = json.loads(full.out)["zones"]
    for one, other in zip(json.loads(fast.out)["zones"], planned, strict=True):
        assert one == other
    assert (fast.code, fast.out) == (full.code, full.out)
    assert '"action": "update"' in full.out and "adopt" in full.out
    seen = INFO_LINE.search(counted.err)
    assert seen is not None, counted.err
    unchanged, total = map(int, seen.groups())
    return unchanged, total
