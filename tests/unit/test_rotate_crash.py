"""Crash convergence of `mailzone.dkim.rotate.rotate` (in-process, `local` provider, Exim files).

Hypothesis draws a schedule of run times; in each run a "crash" (an exception rotate does not
catch) may be injected before or after one of the steps that touch the disk: writing a key,
saving the state, installing the MTA files, reloading the MTA, deleting or archiving a key,
publishing DNS. The run is then repeated without the fault, as the next timer run would. After
every run, crashed or not:

- the state loads;
- every selector the state keeps as pending/active/retiring/revoked has its private key, whose
  public half matches the state;
- the active selector's key is served by the zone file;
- the Exim lookup file names only selectors that the zone file serves with a usable key;

and after each repeat: no private key is left that the state no longer names. A run that
publishes sees its own record only on the next run, so a crash can cost one run: after two
fault-free repeats, the selectors and phases are those of the same schedule run without any
fault (twice per time)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dns.zone
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import mailzone.dkim.rotate as rotate_mod
from mailzone.cli.dkim import publish_rotation
from mailzone.dkim import keys
from mailzone.dkim.selectors import first_keys
from mailzone.dkim.store import KeyStore
from mailzone.dns.query import Dns
from mailzone.repo.project import load_project
from mailzone.repo.state import load_state
from mailzone.spec.host import HostConfig
from tests.helpers import basic_spec, write_spec

DOMAIN = "example.org"
T0 = datetime(2027, 1, 4, 6, 0, tzinfo=UTC)
LIVE = ("pending", "active", "retiring", "revoked")
POINTS = ("key_write", "save_state", "install", "reload", "delete", "apply")


class Crash(Exception):
    """The process dies here (rotate must not catch it)."""


class Fault:
    """Crash at the `nth` call of `point`, before or after the real call."""

    def __init__(self, point: str, nth: int, after: bool) -> None:
        self.point, self.nth, self.after, self.calls = point, nth, after, 0

    def wrap(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls - 1 != self.nth:
                return real(*args, **kwargs)
            with contextlib.suppress(InvalidArgument):  # outside a hypothesis test
                event(f"crash at {self.point} ({'after' if self.after else 'before'})")
            if not self.after:
                raise Crash(self.point)
            real(*args, **kwargs)
            raise Crash(self.point)

        return wrapper


@contextlib.contextmanager
def injected(fault: Fault | None) -> Iterator[None]:
    targets: dict[str, list[tuple[Any, str]]] = {
        "key_write": [(KeyStore, "write")],
        "save_state": [(rotate_mod, "save_state")],
        "install": [(rotate_mod, "install")],
        "reload": [(rotate_mod, "run_reload")],
        "delete": [(KeyStore, "delete"), (KeyStore, "archive")],
        "apply": [],  # the apply callback, wrapped by the caller
    }
    saved: list[tuple[Any, str, Any]] = []
    try:
        if fault is not None:
            for owner, name in targets[fault.point]:
                real = getattr(owner, name)
                saved.append((owner, name, real))
                setattr(owner, name, fault.wrap(real))
        yield
    finally:
        for owner, name, real in saved:
            setattr(owner, name, real)


class World:
    """One temp repository with one Ed25519-signed domain on the local provider."""

    def __init__(self, base: Path, archive: bool, retire: str) -> None:
        self.root = base / "repo"
        spec = basic_spec(extra=f"dkim:\n  algorithms: [ed25519]\n  retire: {retire}\n")
        write_spec(self.root, DOMAIN, spec)
        self.host = HostConfig.model_validate(
            {
                "key_dir": str(base / "keys"),
                "archive_dir": str(base / "archive") if archive else None,
                "mta": {
                    "kind": "exim",
                    "macros_file": str(base / "exim" / "localmacros"),
                    "lookup_file": str(base / "exim" / "selectors"),
                    "reload": [],
                },
            }
        )
        self.store = KeyStore(self.host.key_path)
        first_keys(self.root, DOMAIN, ["ed25519"], 2048, self.host, T0)
        self.publish([DOMAIN])

    def publish(self, names: list[str]) -> list[str]:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return publish_rotation(self.root, names, 1)

    def run(self, now: datetime, fault: Fault | None) -> rotate_mod.RotateResult | None:
        apply = self.publish
        if fault is not None and fault.point == "apply":
            apply = fault.wrap(apply)
        project = load_project(self.root)
        with injected(fault), contextlib.suppress(Crash):
            return rotate_mod.rotate(
                project, project.select(), self.host, now, dns=Dns(), apply=apply, processes=1
            )
        return None

    def zone_txt(self) -> dict[str, str]:
        path = self.root / "build" / "zones" / f"{DOMAIN}.zone"
        zone = dns.zone.from_file(str(path), origin=DOMAIN + ".", relativize=False)
        out = {}
        for name, rdataset in zone.iterate_rdatasets("TXT"):
            label = name.to_text()
            if label.endswith(f"._domainkey.{DOMAIN}."):
                (rdata,) = list(rdataset)
                out[label.split(".")[0]] = b"".join(rdata.strings).decode()
        return out

    def signing(self) -> list[str]:
        path = self.host.path(self.host.mta.lookup_file)
        if not path.exists():
            return []
        return [
            sel.strip()
            for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")
            for sel in line.partition(":")[2].split(":")
        ]

    def phases(self) -> dict[str, str]:
        return {s.selector: s.phase for s in load_state(self.root, DOMAIN).selectors}

    def check(self, settled: bool) -> None:
        state = load_state(self.root, DOMAIN)  # raises if a crash left it unreadable
        served = self.zone_txt()
        for entry in state.selectors:
            if entry.phase in LIVE:
                assert self.store.path(DOMAIN, entry.selector).exists(), (
                    f"key of {entry.phase} {entry.selector} lost"
                )
                assert keys.public_key_of(self.store.read(DOMAIN, entry.selector)).fingerprint == (
                    entry.fingerprint
                )
            if entry.phase == "active":
                assert served.get(entry.selector) == entry.key().txt_value(), (
                    f"active {entry.selector} not in the zone file"
                )
        for selector in self.signing():
            value = served.get(selector, "")
            assert value and not value.endswith("p="), f"Exim signs with unserved {selector}"
        if settled:
            named = {s.selector for s in state.selectors}
            left = set(self.store.selectors_of(DOMAIN)) - named
            assert not left, f"private keys the state no longer names: {left}"


STEPS = st.sampled_from(
    [timedelta(hours=25), timedelta(days=8), timedelta(days=31), timedelta(days=91)]
)
FAULTS = st.one_of(
    st.none(),
    st.builds(Fault, st.sampled_from(POINTS), st.integers(min_value=0, max_value=1), st.booleans()),
)


@settings(
    max_examples=int(os.environ.get("MAILZONE_CRASH_EXAMPLES", "12")),  # more: a longer search
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking takes minutes here
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    schedule=st.lists(st.tuples(STEPS, FAULTS), min_size=3, max_size=7),
    archive=st.booleans(),
    retire=st.sampled_from(["revoke", "remove"]),
)
def test_a_crash_anywhere_converges_on_the_next_run(
    schedule: list[tuple[timedelta, Fault | None]], archive: bool, retire: str
) -> None:
    base = Path(tempfile.mkdtemp(prefix="mz-crash-"))
    try:
        faulty = World(base / "faulty", archive, retire)
        clean = World(base / "clean", archive, retire)
        now = T0
        for delta, fault in schedule:
            now += delta
            for _ in range(2):  # the fault fires once, in either run (the 2nd deletes keys)
                faulty.run(now, fault)
                faulty.check(settled=False)
            faulty.run(now, None)
            faulty.check(settled=True)
            faulty.run(now, None)  # a crash may cost the run that would have published
            faulty.check(settled=True)
            clean.run(now, None)  # twice too: a run that published may observe it at once
            clean.run(now, None)
            clean.check(settled=True)
            assert faulty.phases() == clean.phases()
    finally:
        shutil.rmtree(base)


def test_the_property_reaches_every_phase() -> None:
    """The schedules above can drive a selector from pending to deleted (a sanity check on the
    harness: a property that never leaves `pending` would prove little)."""
    base = Path(tempfile.mkdtemp(prefix="mz-crash-"))
    try:
        world = World(base, archive=False, retire="revoke")
        seen: set[str] = set()
        now = T0
        for delta in (
            [timedelta(hours=1), timedelta(hours=25), timedelta(days=91)]
            + [timedelta(hours=25)] * 2
            + [timedelta(days=8), timedelta(days=31), timedelta(hours=1)]
        ):
            now += delta
            world.run(now, None)
            world.check(settled=True)
            seen |= set(world.phases().values())
        assert seen == {"pending", "active", "retiring", "revoked", "tombstone"}
        assert len(world.phases()) == 1  # the first selector is forgotten and its key gone
        assert len(world.store.selectors_of(DOMAIN)) == 1
    finally:
        shutil.rmtree(base)


DRIVE = [timedelta(hours=1), timedelta(hours=25), timedelta(days=91), timedelta(hours=1)]
DRIVE += [timedelta(hours=25), timedelta(days=31)]


@pytest.mark.parametrize(
    ("archive", "nth", "after"),
    [(False, 0, False), (False, 0, True), (True, 0, False), (True, 0, True), (True, 1, False)],
)  # (True, 1, False): the archive copy is written, the original not yet removed
def test_crash_while_deleting_a_forgotten_key_leaves_no_orphan(
    archive: bool, nth: int, after: bool
) -> None:
    base = Path(tempfile.mkdtemp(prefix="mz-crash-"))
    try:
        world = World(base, archive=archive, retire="revoke")
        now = T0
        for delta in DRIVE:  # up to the tombstone, removed from the zone file
            now += delta
            world.run(now, None)
        (old,) = [s for s, p in world.phases().items() if p == "tombstone"]
        world.run(now + timedelta(hours=1), Fault("delete", nth, after))
        world.check(settled=False)
        world.run(now + timedelta(hours=1), None)
        world.check(settled=True)
        assert old not in world.phases()
        assert not world.store.path(DOMAIN, old).exists()
        archived = base / "archive" / f"{DOMAIN}.{old}.pem"
        assert archived.exists() == archive
    finally:
        shutil.rmtree(base)


def test_a_key_that_cannot_be_archived_keeps_its_tombstone_and_is_retried() -> None:
    base = Path(tempfile.mkdtemp(prefix="mz-crash-"))
    try:
        world = World(base, archive=True, retire="revoke")
        now = T0
        for delta in DRIVE:
            now += delta
            world.run(now, None)
        (old,) = [s for s, p in world.phases().items() if p == "tombstone"]
        squatter = base / "archive" / f"{DOMAIN}.{old}.pem"
        squatter.parent.mkdir()
        squatter.write_bytes(b"someone else's file\n")
        result = world.run(now + timedelta(hours=1), None)
        assert result is not None and result.failed
        (error,) = result.errors
        assert error.startswith(f"{DOMAIN}: {squatter}: the archive already holds a key"), error
        assert world.phases()[old] == "tombstone"
        assert world.store.path(DOMAIN, old).exists()
        world.check(settled=True)

        squatter.unlink()
        result = world.run(now + timedelta(hours=2), None)
        assert result is not None and not result.failed
        assert old not in world.phases()
        assert squatter.exists() and not world.store.path(DOMAIN, old).exists()
    finally:
        shutil.rmtree(base)
