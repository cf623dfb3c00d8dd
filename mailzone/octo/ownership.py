"""Ownership rules, applied between the desired zone and the live one.

octoDNS diffs whole record sets and deletes whatever the desired zone lacks. mailzone instead
changes only what its registry says it created: every other live record is carried into the
desired zone unchanged, the apex TXT set is merged value by value (only `v=spf1` is ours), and a
live record mailzone would replace without owning it is an *adoption*, done only when asked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from octodns.record import Record
from octodns.zone import Zone

from mailzone.errors import MailzoneError
from mailzone.octo import registry
from mailzone.octo.registry import REGISTRY_NAME
from mailzone.records.families import generates


@dataclass(frozen=True)
class Adoption:
    """A live record set mailzone wants to replace but did not create."""

    domain: str
    name: str
    type: str
    live: tuple[str, ...]
    wanted: tuple[str, ...]
    applied: bool


@dataclass
class ZoneReport:
    """What reconciling one zone found, beyond the record changes."""

    adoptions: list[Adoption] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    live_registry: registry.Registry = field(default_factory=dict)
    held: list[str] = field(default_factory=list)  # what a scoped plan left out: "update A mail"

    @property
    def pending_adoptions(self) -> list[Adoption]:
        """Adoptions that were not applied (the run had no --adopt)."""
        return [a for a in self.adoptions if not a.applied]


class ForeignCnameError(MailzoneError):
    """A CNAME mailzone did not create sits where mailzone needs another record."""


class MtaStsRemovalError(MailzoneError):
    """`mta_sts` left the spec before `mode: none` was published for the cached max_age. The
    runner knows the domain's spec file and puts it in front (`sync.plan_zone`)."""

    def __init__(self, domain: str, problem: str) -> None:
        super().__init__(f"mta_sts: {problem}", domain)
        self.domain = domain


def owns_spf_only(name: str, rtype: str, owned_by_run: frozenset[str]) -> bool:
    """Whether a live TXT set holds an SPF value this run owns while the set itself is not
    this run's: the SPF value goes (or stays merged), the other values stay."""
    return (
        rtype == "TXT"
        and registry.entry("SPF", name) in owned_by_run
        and registry.entry(rtype, name) not in owned_by_run
    )


def is_spf(value: str) -> bool:
    """Whether a TXT value (octoDNS internal form) is an SPF record."""
    head = value[:7].lower()
    return head == "v=spf1" or head == "v=spf1 "


def _values(record: Record) -> list[str]:
    values = getattr(record, "values", None)
    return list(values) if values is not None else [record.value]


def _show(record: Record) -> tuple[str, ...]:
    return tuple(str(v) for v in _values(record))


def reconcile(
    desired: Zone,
    existing: Zone,
    adopt: bool,
    release: frozenset[str] = frozenset(),
    keep_unowned: bool = True,
    deletable: Mapping[str, frozenset[str]] | None = None,
) -> ZoneReport:
    """Rewrite `desired` (a copy octoDNS made for this target) so the diff obeys ownership.

    `release`: domains dropped from the registry whose records stay in DNS, unowned.
    `keep_unowned`: keep live records nobody wants (False when another octoDNS source owns the
    rest of the zone and octoDNS's own deletions should apply outside mailzone's records).
    `deletable`: per domain being forgotten, the registry entries mailzone could have made for
    it; a live claim beyond them is not trusted (the record stays, with a warning)."""
    report = ZoneReport()
    want_rec = desired.get_type(REGISTRY_NAME, "TXT")
    live_rec = existing.get_type(REGISTRY_NAME, "TXT")
    want = registry.decode(_values(want_rec)) if want_rec else {}
    have = registry.decode(_values(live_rec)) if live_rec else {}
    report.live_registry = have
    have = _generated_kinds(have, existing.decoded_name, report)
    if deletable:
        have = _trusted(have, deletable, existing.decoded_name, report)
    owned_any = frozenset().union(*have.values()) if have else frozenset()
    running = [d for d in want if d not in release]
    owned_by_run = (
        frozenset().union(*(have.get(d, frozenset()) for d in running)) if running else frozenset()
    )
    wanted_by = {e: d for d, entries in want.items() for e in entries}
    claimed = {d: set(entries) for d, entries in want.items()}

    live_sets = {(r.name, r._type): r for r in existing.records}
    desired_sets = {(r.name, r._type): r for r in desired.records if r.name != REGISTRY_NAME}

    for (name, rtype), record in sorted(desired_sets.items()):
        cname = live_sets.get((name, "CNAME"))
        if (
            cname is not None
            and rtype != "CNAME"
            and registry.entry("CNAME", name) not in owned_any
        ):
            raise ForeignCnameError(
                f"{record.fqdn} is a CNAME to {cname.value} that mailzone did not create; "
                f"it cannot also hold {rtype}: remove the CNAME or change the spec"
            )
        live = live_sets.get((name, rtype))
        if live is None:
            continue
        spf_entry = registry.entry("SPF", name)
        if rtype == "TXT" and spf_entry in wanted_by:
            _merge_spf(
                desired,
                record,
                live,
                spf_entry in owned_any,
                adopt,
                wanted_by[spf_entry],
                claimed,
                report,
            )
            continue
        own = registry.entry(rtype, name)
        if own in owned_any or own not in wanted_by:
            continue
        report.adoptions.append(
            Adoption(wanted_by[own], name, rtype, _show(live), _show(record), adopt)
        )
        if not adopt:
            desired.add_record(live.copy(zone=desired), replace=True)
            claimed[wanted_by[own]].discard(own)

    for (name, rtype), live in sorted(live_sets.items()):
        if name == REGISTRY_NAME and rtype == "TXT":
            continue
        if (name, rtype) in desired_sets:
            continue
        own = registry.entry(rtype, name)
        if owns_spf_only(name, rtype, owned_by_run):
            others = [v for v in _values(live) if not is_spf(v)]
            if others:  # our SPF value goes, the other values stay
                desired.add_record(live.copy(zone=desired, values=others), replace=True)
            continue
        if own in owned_by_run:
            continue  # ours and no longer wanted: octoDNS deletes it
        if keep_unowned or own in owned_any:
            desired.add_record(live.copy(zone=desired), replace=True)

    notes = settle_notes(
        _values(want_rec) if want_rec else [],
        _values(live_rec) if live_rec else [],
        want,
        frozenset(deletable or ()),
        release,
        report,
    )
    _write_registry(desired, want_rec, live_rec, registry_values(have, claimed, notes))
    return report


def _generated_kinds(have: registry.Registry, zone: str, report: ZoneReport) -> registry.Registry:
    """The live registry without claims no record family could have made (a hand-edited
    `_mailzone` claiming `NS/sub` must not make apply delete a delegation)."""
    out: registry.Registry = {}
    for domain, claims in have.items():
        out[domain] = frozenset(c for c in claims if generates(*registry.split_key(c)))
        for claim in sorted(claims - out[domain]):
            report.warnings.append(
                f"{_claim(domain, claim, zone)}, a type mailzone never generates there; left in place"
            )
    return out


def _claim(domain: str, claim: str, zone: str) -> str:
    kind, name = registry.split_key(claim)
    fqdn = f"{name}.{zone}" if name else zone
    return f"{domain}: the {REGISTRY_NAME} registry claims {kind} {fqdn.rstrip('.')}"


def _trusted(
    have: registry.Registry,
    deletable: Mapping[str, frozenset[str]],
    zone: str,
    report: ZoneReport,
) -> registry.Registry:
    """The live registry without the claims mailzone never generated (a hand-edited
    `_mailzone` must not make forget delete someone else's records)."""
    out = dict(have)
    for domain, allowed in deletable.items():
        claims = have.get(domain, frozenset())
        for claim in sorted(claims - allowed):
            report.warnings.append(
                f"{_claim(domain, claim, zone)}, which mailzone never generated for it; "
                "left in place"
            )
        if domain in out:
            out[domain] = claims & allowed
    return out


def _merge_spf(
    desired: Zone,
    record: Record,
    live: Record,
    owned: bool,
    adopt: bool,
    domain: str,
    claimed: dict[str, set[str]],
    report: ZoneReport,
) -> None:
    live_values = _values(live)
    live_spf = [v for v in live_values if is_spf(v)]
    others = [v for v in live_values if not is_spf(v)]
    wanted_spf = [v for v in _values(record) if is_spf(v)]
    if live_spf and not owned:
        report.adoptions.append(
            Adoption(domain, record.name, "TXT", tuple(live_spf), tuple(wanted_spf), adopt)
        )
        if not adopt:
            desired.add_record(live.copy(zone=desired), replace=True)
            claimed[domain].discard(registry.entry("SPF", record.name))
            return
    if len(live_spf) > 1:
        report.warnings.append(
            f"{record.fqdn} has {len(live_spf)} SPF values (receivers answer permerror); "
            "they are replaced by the one desired"
        )
    # the set keeps its live TTL while it holds values that are not ours
    ttl = live.ttl if others else record.ttl
    merged = Record.new(
        desired,
        record.name,
        {"type": "TXT", "ttl": ttl, "values": others + wanted_spf},
        source=record.source,
        lenient=True,
    )
    desired.add_record(merged, replace=True)


def settle_notes(
    want_values: list[str],
    live_values: list[str],
    want: registry.Registry,
    forgetting: frozenset[str],
    release: frozenset[str],
    report: ZoneReport,
) -> registry.Notes:
    """Each domain's registry notes: the live ones for domains this run does not write; for the
    others the desired ones, where a DMARC policy keeps the date it went live (the live note's,
    else the one the desired note carries from an old state file, else today) and so does an
    MTA-STS mode. MtaStsRemovalError when a spec drops `mta_sts` too early; `forget` may (asked
    explicitly: deleting the records warns how long senders may still enforce the policy;
    released records stay published)."""
    wanted = registry.decode_notes(want_values)
    live = registry.decode_notes(live_values)
    notes = {d: n for d, n in live.items() if d not in want}
    today = datetime.now(UTC).date()
    for domain in want:
        mine = dict(wanted.get(domain, {}))
        if "dmarc" in mine:
            policy = mine["dmarc"].partition("@")[0]
            was = registry.parse_dmarc_note(live.get(domain, {}).get("dmarc"))
            seeded = registry.parse_dmarc_note(mine["dmarc"])
            if was is not None and was[0] == policy:
                mine["dmarc"] = registry.dmarc_note(*was)
            elif seeded is None:
                mine["dmarc"] = registry.dmarc_note(policy, today)
        was_sts = live.get(domain, {}).get("mta_sts")
        if "mta_sts" in mine:
            mine["mta_sts"] = _settle_mta_sts(mine["mta_sts"], was_sts, today)
        elif domain in forgetting:
            warning = registry.mta_sts_forget_warning(was_sts, today)
            if warning:
                report.warnings.append(f"{domain}: {warning}")
        elif was_sts is not None and domain not in release:
            problem = registry.mta_sts_removal_problem(was_sts, today)
            if problem:
                raise MtaStsRemovalError(domain, problem)
        notes[domain] = mine
    return notes


def _settle_mta_sts(wanted: str, live: str | None, today: date) -> str:
    """The `mta_sts` note: the mode keeps the date it went live, and the longest max_age any
    sender may have cached is carried along (the wait before the records may go)."""
    mode, _, max_age = registry.parse_mta_sts_note(wanted) or ("", None, 0)
    was = registry.parse_mta_sts_note(live)
    if was is None:
        return registry.mta_sts_note(mode, today, max_age)
    since = was[1] if was[0] == mode and was[1] is not None else today
    return registry.mta_sts_note(mode, since, max(max_age, was[2]))


def registry_values(
    have: registry.Registry, claimed: Mapping[str, set[str]], notes: registry.Notes
) -> list[str]:
    """The registry values after this run: the live entries of domains it does not write, the
    claimed ones of those it does, each with its settled notes."""
    entries = {d: e for d, e in have.items() if d not in claimed}
    entries.update({d: frozenset(e) for d, e in claimed.items()})
    return [registry.encode(d, e, notes.get(d)) for d, e in sorted(entries.items()) if e]


def _write_registry(
    desired: Zone, want_rec: Record | None, live_rec: Record | None, values: list[str]
) -> None:
    if want_rec is not None:
        desired.remove_record(want_rec)
    if not values:
        return
    # no domain of this run wants the zone (only specs that are gone): keep the live TTL, or the
    # registry would be rewritten, and `plan --exit-code` see a change, on every run
    ttl = want_rec.ttl if want_rec is not None else live_rec.ttl if live_rec is not None else 3600
    desired.add_record(
        Record.new(
            desired, REGISTRY_NAME, {"type": "TXT", "ttl": ttl, "values": values}, lenient=True
        ),
        replace=True,
    )
