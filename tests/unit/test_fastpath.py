"""The no-op pre-filter (`octo/fastpath.py`) against the full plan, on generated live zones.

The live side is a `local` zone file: first what an apply wrote, then edited the way zones drift
(case, TTLs, TXT chunking, foreign records and types, registry edits, missing or changed
records). The pre-filter must call a zone unchanged only when the full plan (octoDNS with mailzone's
processor) has no change and says nothing (no adoption, guard hit, orphan, error or warning),
and always then, unless the live zone holds something it does not judge (an owner name that is
not plain labels, a set octoDNS would complain about). When it does not, the zone's plan is the
full plan's."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from octodns.zone import Zone

from mailzone.octo import fastpath
from mailzone.octo.desired import add_records, desired_data, lean_zone
from mailzone.octo.sync import ProviderCache, ZonePlan, apply_zone, plan_zone, zone_tasks
from mailzone.records.model import DesiredRecord
from mailzone.repo.project import Project, load_project
from tests.helpers import DANE_SPEC, basic_spec, dane_state, ed25519_public_b64, write_spec

ZONE = "example.org"


@dataclass
class Site:
    root: Path
    project: Project
    cache: ProviderCache
    file: Path
    applied: str  # the zone file right after the first apply


KEY = ed25519_public_b64()
# the spec of example.org: the applied one and the planned one are drawn from these
VARIANTS = ("base", "ttl", "dmarc", "host", "no-sts", "dane", "dane-one")
EXAMPLES = int(os.environ.get("MAILZONE_FASTPATH_EXAMPLES", "300"))  # more, to look harder


def example_spec(variant: str) -> str:
    sts = (
        ""
        if variant == "no-sts"
        else "mta_sts:\n  mode: testing\n  host: {cname: web.example.net}\n"
    )
    spec = basic_spec(
        extra=f'dkim:\n  import:\n    - {{selector: "s1", public_key: "{KEY}"}}\n{sts}'
    )
    if variant == "ttl":
        spec = spec.replace("ttl: 300", "ttl: 600")
    if variant == "dmarc":
        spec = spec.replace("policy: none", "policy: quarantine")
    if variant == "host":
        spec = spec.replace("192.0.2.25", "192.0.2.26")
    if variant.startswith("dane"):
        spec += DANE_SPEC
    return spec


def example_state(variant: str) -> str | None:
    """The state of example.org: mail's DANE keys (3 1 1 aa… and bb…; `dane-one`: aa… alone)."""
    if not variant.startswith("dane"):
        return None
    state = dane_state(ZONE)
    return (
        "\n".join(s for s in state.splitlines() if "bbbb" not in s) + "\n"
        if variant == "dane-one"
        else state
    )


def make_site(root: Path, variant: str) -> Site:
    """A repository of example.org (as `variant`) and lists.example.org in one `local` zone,
    applied once."""
    write_spec(root, ZONE, example_spec(variant))
    state = example_state(variant)
    if state is not None:
        (root / "state").mkdir(exist_ok=True)
        (root / "state" / f"{ZONE}.yaml").write_text(state)
    write_spec(
        root,
        f"lists.{ZONE}",
        basic_spec(f"lists.{ZONE}", extra=f"zone: {ZONE}\n").replace("name: mail", "name: mx"),
    )
    (root / "providers").mkdir()
    (root / "providers" / "local.yaml").write_text(
        f"class: mailzone.octo.local.LocalZoneFileProvider\ndirectory: {root / 'zones-out'}\n"
    )
    project = load_project(root)
    cache = ProviderCache(root)
    first = run_plan(project, cache, fast=False)
    outcome = apply_zone(first, cache, root / "backups", first_now())
    assert outcome.status == "applied", outcome.message
    file = root / "zones-out" / f"{ZONE}.zone"
    return Site(root, project, cache, file, file.read_text())


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Site]:
    return {v: make_site(tmp_path_factory.mktemp(v), v) for v in VARIANTS}


@pytest.fixture(scope="module")
def site(sites: dict[str, Site]) -> Site:
    return sites["base"]


def first_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def run_plan(project: Project, cache: ProviderCache, fast: bool) -> ZonePlan:
    (task,) = zone_tasks(project, list(project.domains.values()))
    known = project.names | set(project.domains)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(fastpath.DISABLE_ENV, "" if fast else "1")
        return plan_zone(task, cache, known)


@contextmanager
def warnings_logged() -> Iterator[list[str]]:
    """Every WARNING (or worse) logged meanwhile."""
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Keep(logging.WARNING)
    logging.getLogger().addHandler(handler)
    try:
        yield seen
    finally:
        logging.getLogger().removeHandler(handler)


# -- edits of the zone file -----------------------------------------------------------------

Edit = Callable[[list[str]], list[str]]
RECORD = re.compile(r"^(\S+)(\s+)(\d+)(\s+IN\s+)(\S+)(\s+)(.*)$")


def on_line(pick: int, change: Callable[[re.Match[str]], str | None]) -> Edit:
    """Apply `change` to the `pick`-th record line (mod their number; None deletes it)."""

    def edit(lines: list[str]) -> list[str]:
        records = [i for i, line in enumerate(lines) if RECORD.match(line)]
        i = records[pick % len(records)]
        match = RECORD.match(lines[i])
        assert match is not None
        new = change(match)
        if new is None and match.group(5) in ("SOA", "NS") and match.group(1) == "@":
            return lines  # a zone file without them loads nowhere (the suite checks it)
        return lines[:i] + ([] if new is None else [new]) + lines[i + 1 :]

    return edit


def upper_owner(m: re.Match[str]) -> str:
    return m.group(1).upper() + m.string[m.end(1) :]


def new_ttl(ttl: int) -> Callable[[re.Match[str]], str]:
    return lambda m: m.string[: m.start(3)] + str(ttl) + m.string[m.end(3) :]


def rechunk(at: int) -> Callable[[re.Match[str]], str]:
    def change(m: re.Match[str]) -> str:
        data = m.group(7)
        if m.group(5) != "TXT" or not data.startswith('"') or '" "' in data:
            return m.string
        inner = data[1:-1]
        cut = 1 + at % max(1, len(inner) - 1)
        if inner[cut - 1] == "\\" or inner[cut - 1 : cut + 1].startswith("\\"):
            return m.string
        return m.string[: m.start(7)] + f'"{inner[:cut]}" "{inner[cut:]}"'

    return change


def upper_data(m: re.Match[str]) -> str:
    if m.group(5) in ("MX", "CNAME", "TLSA"):
        return m.string[: m.start(7)] + m.group(7).upper()
    return m.string


def other_value(m: re.Match[str]) -> str:
    rtype, data = m.group(5), m.group(7)
    if rtype == "A":
        data = "192.0.2.99"
    elif rtype == "AAAA":
        data = "2001:db8:0:0::99"
    elif rtype == "MX":
        data = "20 " + data.split()[1]
    elif rtype == "TXT" and not m.group(1).startswith("_mailzone"):
        data = data[:-1] + ' x"'
    elif rtype == "TLSA":
        data = "2" + data[1:]  # usage 2 (a trust anchor) for the same data
    return m.string[: m.start(7)] + data


def registry_edit(change: Callable[[str], str]) -> Edit:
    def edit(lines: list[str]) -> list[str]:
        out = []
        for line in lines:
            m = RECORD.match(line)
            if m and m.group(1) == "_mailzone" and f"mailzone:1 {ZONE} " in line:
                line = line[: m.start(7)] + change(m.group(7))
            out.append(line)
        return out

    return edit


def appended(*new: str) -> Edit:
    return lambda lines: [*lines, *new]


def drop_token(token: str) -> Edit:
    return registry_edit(lambda data: data.replace(f" {token}", "", 1))


def add_token(token: str) -> Edit:
    return registry_edit(lambda data: data.replace(" MX/@", f" MX/@ {token}", 1))


FIXED: list[Edit] = [
    appended("www 300 IN A 192.0.2.80"),
    appended('@ 300 IN TXT "google-site-verification=abc"'),
    appended('@ 600 IN TXT "v=spf1 -all"'),
    appended(r'foo 300 IN TXT "a;b\;c" "d"'),
    appended('@ 300 IN CAA 0 issue "letsencrypt.org"'),
    appended("_sip._tcp 300 IN SRV 10 5 5060 sip.example.org."),
    appended("_25._tcp.mail 300 IN TLSA 3 1 1 " + "ab" * 32),  # in a DANE zone: an extra key
    appended("_25._tcp.mail 300 IN TLSA 3 1 1 " + "BB" * 32),  # a key again, in capitals
    appended("_25._tcp.mail 300 IN TLSA 3 1 0 " + "cd" * 100),  # longer than octoDNS parses
    appended("_25._tcp.mail 300 IN TLSA 4 1 1 " + "cd" * 32),  # a usage octoDNS refuses
    appended("_25._tcp.mx.lists 300 IN TLSA 3 0 2 " + "ef" * 64),  # another host's
    appended('hw 300 IN HINFO "a" "b"'),
    appended("* 300 IN A 192.0.2.1"),
    appended("Foo-Bar 300 IN A 192.0.2.2"),
    appended(r"a\.b 300 IN A 192.0.2.3"),
    appended(r'weird 300 IN TXT "\007x"'),
    appended(r'q 300 IN TXT "say \"hi\""'),
    appended('e 300 IN TXT ""'),
    appended("old 300 IN A 192.0.2.9"),
    appended("sub 300 IN NS ns.elsewhere.net."),
    appended("alias 300 IN CNAME Target.Example.NET."),
    appended("single 300 IN CNAME com."),
    appended("ipmx 300 IN MX 10 192.0.2.1."),
    appended('_mailzone 300 IN TXT "mailzone:1 gone.example.org A/gone"'),
    appended('_mailzone 300 IN TXT "not ours"'),
    appended(r'_mailzone 300 IN TXT "mailzone:1 lists.example.org MX/lists\;x"'),
    drop_token("A/mail"),
    drop_token("SPF/@"),
    drop_token("TXT/_dmarc"),
    add_token("A/old"),
    add_token("MX/old"),
    add_token("NS/sub"),
    add_token("SPF/foo"),
    registry_edit(lambda d: re.sub(r"dmarc=none@\S+?(?=[ \"])", "dmarc=none@2020-01-01", d)),
    registry_edit(lambda d: re.sub(r"dmarc=none@", "dmarc=reject@", d)),
    registry_edit(lambda d: re.sub(r"~86400", "~5", d)),
    registry_edit(lambda d: d.replace("mailzone:1", "mailzone:1 ", 1)),
    lambda lines: (
        [line for line in lines if not line.startswith("mail ")]
        + ["mail 300 IN CNAME elsewhere.example.net."]
    ),
    lambda lines: [*lines, "old 300 IN MX 10 mail.example.org."],
]


@st.composite
def edits(draw: st.DrawFn) -> list[Edit]:
    line_ops: list[Callable[[re.Match[str]], str | None]] = [
        upper_owner,
        upper_data,
        other_value,
        lambda m: None,
        new_ttl(draw(st.sampled_from([0, 60, 299, 301, 86400]))),
        rechunk(draw(st.integers(0, 400))),
    ]
    chosen: list[Edit] = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.integers(0, 1))
        if kind == 0:
            op = draw(st.sampled_from(line_ops))
            chosen.append(on_line(draw(st.integers(0, 100)), op))
        else:
            chosen.append(draw(st.sampled_from(FIXED)))
    return chosen


def opaque(site: Site) -> bool:
    """Whether the live zone has a set the pre-filter does not judge."""
    provider = site.cache.get("local")
    live = provider.live_zone(f"{ZONE}.")
    provider.forget_live(f"{ZONE}.")
    return bool(live.opaque)


def quiet_noop(zp: ZonePlan, warned: list[str]) -> bool:
    """What the pre-filter must find: no change and nothing to say."""
    return (
        zp.error is None
        and zp.plan is None
        and not zp.report.adoptions
        and not zp.report.warnings
        and not zp.report.held
        and not zp.orphans
        and not zp.guard
        and not warned
    )


def shown(zp: ZonePlan) -> Any:
    changes = sorted(
        (type(c).__name__, c.record.name, c.record._type, repr(c.new), repr(c.existing))
        for c in zp.changes
    )
    return (zp.error, changes, zp.report, zp.orphans, zp.guard)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    chosen=edits(),
    applied=st.sampled_from(sorted(VARIANTS)),
    planned=st.sampled_from(sorted(VARIANTS)),
)
def test_prefilter_calls_a_zone_unchanged_exactly_when_the_full_plan_is_a_quiet_noop(
    sites: dict[str, Site], chosen: list[Edit], applied: str, planned: str
) -> None:
    # given the zone file one spec applied, edited, and the same or another spec to plan
    site = sites[planned]
    lines = sites[applied].applied.splitlines()
    for edit in chosen:
        lines = edit(lines)
    site.file.write_text("\n".join(lines) + "\n")

    # when the zone is planned in full, and with the pre-filter
    with warnings_logged() as full_warned:
        full = run_plan(site.project, site.cache, fast=False)
    with warnings_logged() as fast_warned:
        fast = run_plan(site.project, site.cache, fast=True)

    # then the pre-filter fires exactly on a quiet no-op, and otherwise the plan is the same
    assert not full.prefiltered
    quiet = quiet_noop(full, full_warned)
    event(f"prefiltered={fast.prefiltered} quiet={quiet}")
    zone = "\n".join(lines)
    if fast.prefiltered:
        assert quiet, f"prefiltered, but the full plan says {shown(full)}, {full_warned}\n{zone}"
    elif quiet:  # missed only where the zone holds what the canonical form cannot judge
        assert opaque(site), f"a quiet no-op not prefiltered\n{zone}"
    if fast.prefiltered:
        assert fast.plan is None and not fast_warned
        assert fast.report.live_registry == full.report.live_registry
    else:
        assert shown(fast) == shown(full)
        assert fast_warned == full_warned


def test_the_applied_zone_is_prefiltered(site: Site) -> None:
    site.file.write_text(site.applied)
    assert run_plan(site.project, site.cache, fast=True).prefiltered


def test_an_applied_dane_zone_is_prefiltered(sites: dict[str, Site]) -> None:
    site = sites["dane"]
    site.file.write_text(site.applied)
    assert "TLSA" in site.applied
    assert run_plan(site.project, site.cache, fast=True).prefiltered


def test_no_fastpath_env_turns_it_off(site: Site) -> None:
    site.file.write_text(site.applied)
    assert not run_plan(site.project, site.cache, fast=False).prefiltered


def test_a_prefiltered_zone_builds_no_octodns_zone(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pre-filter compares a lean desired zone: octoDNS's Zone is built for full plans only."""

    def no_zone(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an octoDNS Zone was built")

    site.file.write_text(site.applied)
    monkeypatch.setattr("mailzone.octo.sync.Zone", no_zone)
    fast = run_plan(site.project, site.cache, fast=True)
    assert fast.error is None and fast.prefiltered


ODD = [  # values octoDNS normalises: case, uncompressed addresses, `;` escaped
    DesiredRecord("", "MX", 300, ("20 MX2.Example.NET.", "10 mail.example.org.")),
    DesiredRecord("mail", "A", 300, ("192.0.2.25", "192.0.2.3")),
    DesiredRecord("mail", "AAAA", 300, ("2001:DB8:0:0::1", "2001:db8::a")),
    DesiredRecord("mta-sts", "CNAME", 600, ("Web.Example.NET.",)),
    DesiredRecord("_dmarc", "TXT", 300, ("v=DMARC1; p=none", "x" * 300)),
]


def test_the_lean_desired_zone_reads_as_octodns_records(sites: dict[str, Site]) -> None:
    """Every set the pre-filter compares is the set octoDNS's record of the same data gives."""
    cases = [[(d.name, d.records) for d in s.project.domains.values()] for s in sites.values()]
    for per_domain in [*cases, [("example.org", ODD)]]:
        data = desired_data(per_domain, ttl=300, notes={})
        zone = Zone(f"{ZONE}.", [])
        add_records(zone, data)
        lean = lean_zone(f"{ZONE}.", data)
        assert lean is not None
        real = {(r.name, r._type): fastpath.record_set(r) for r in zone.records}
        mine = {(r.name, r._type): fastpath.record_set(r) for r in lean.records}
        assert mine == real and None not in real.values()


def test_a_cname_beside_another_set_is_left_to_the_full_plan() -> None:
    both = [DesiredRecord("mta-sts", "CNAME", 300, ("web.example.net.",))]
    both.append(DesiredRecord("mta-sts", "TXT", 300, ("v=STSv1; id=1",)))
    assert lean_zone(f"{ZONE}.", desired_data([("example.org", both)])) is None


def test_a_zone_without_a_registry_gets_no_lean_zone(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zone the pre-filter cannot judge (a new one, say) costs it no desired-zone building."""
    built: list[str] = []
    monkeypatch.setattr("mailzone.octo.sync.lean_zone", lambda name, data: built.append(name))
    lines = site.applied.splitlines(keepends=True)
    site.file.write_text("".join(line for line in lines if "_mailzone" not in line))
    full = run_plan(site.project, site.cache, fast=True)
    assert full.error is None and not full.prefiltered
    assert built == []
