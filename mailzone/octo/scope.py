"""A plan limited to some names: every other record set is held at its live value.

`rotate --apply` publishes what rotation changed (its DKIM selectors and their registry entries)
and nothing else: a spec edit nobody has applied yet stays pending for `mailzone apply`, which
may be the reviewed path (CI). Run after `ownership.reconcile`, on the same desired zone."""

from __future__ import annotations

from typing import Any

from octodns.record import Record
from octodns.zone import Zone

from mailzone.octo import registry
from mailzone.octo.ownership import ZoneReport, _values
from mailzone.octo.registry import REGISTRY_NAME, is_registry


def hold_outside(
    desired: Zone, existing: Zone, scope: frozenset[str], target: Any, report: ZoneReport
) -> None:
    """Make `desired` equal to `existing` outside `scope` (names relative to the zone), and
    note in `report.held` the changes that were held back. The registry keeps its live entries
    outside `scope` and takes the desired ones inside it."""
    include = getattr(target, "_include_change", lambda change: True)
    report.held = [
        f"{type(c).__name__.lower()} {c.record._type} {c.record.name or '@'}"
        for c in existing.changes(desired, target)
        if c.record.name not in scope and not is_registry(c.record) and include(c)
    ]
    report.held += [
        f"adopt {a.type} {a.name or '@'}" for a in report.adoptions if a.name not in scope
    ]
    report.adoptions = [a for a in report.adoptions if a.name in scope]
    for record in desired.records:
        if record.name not in scope and not is_registry(record):
            desired.remove_record(record)
    for record in existing.records:
        if record.name not in scope and not is_registry(record):
            desired.add_record(record.copy(zone=desired), replace=True)
    _scope_registry(desired, existing, scope)


def _scope_registry(desired: Zone, existing: Zone, scope: frozenset[str]) -> None:
    want_rec = desired.get_type(REGISTRY_NAME, "TXT")
    live_rec = existing.get_type(REGISTRY_NAME, "TXT")
    want = registry.decode(_values(want_rec)) if want_rec else {}
    have = registry.decode(_values(live_rec)) if live_rec else {}
    notes = registry.decode_notes(_values(live_rec)) if live_rec else {}  # apply's to change
    entries: dict[str, frozenset[str]] = {}
    for domain in sorted({*want, *have}):
        kept = {e for e in have.get(domain, ()) if registry.split_key(e)[1] not in scope}
        taken = {e for e in want.get(domain, ()) if registry.split_key(e)[1] in scope}
        if kept | taken:
            entries[domain] = frozenset(kept | taken)
    if want_rec is not None:
        desired.remove_record(want_rec)
    if entries == have and live_rec is not None:  # (and so are the notes)
        desired.add_record(live_rec.copy(zone=desired), replace=True)
        return
    source = live_rec or want_rec
    if not entries or source is None:
        return
    values = [registry.encode(d, e, notes.get(d)) for d, e in entries.items()]
    data = {"type": "TXT", "ttl": source.ttl, "values": values}
    desired.add_record(Record.new(desired, REGISTRY_NAME, data, lenient=True), replace=True)
