"""Desired records → an octoDNS zone, with the registry value for each domain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from octodns.idna import idna_encode
from octodns.record import Record
from octodns.zone import Zone

from mailzone.octo import registry
from mailzone.octo.ownership import is_spf
from mailzone.octo.registry import REGISTRY_NAME
from mailzone.records.domain import DesiredRecord, merge_zone
from mailzone.repo.project import Domain

# a record set `fill_zone` adds: its desired record (None: the registry), name, octoDNS data
DesiredData = tuple[DesiredRecord | None, str, dict[str, object]]


def registry_notes(domain: Domain) -> dict[str, str]:
    """The notes the domain's registry value carries: its DMARC policy and its MTA-STS mode
    (ownership.reconcile dates them; a state file from before the notes gives the date the
    DMARC policy went live)."""
    notes = {}
    sts = domain.spec.mta_sts
    if sts is not None:
        age = int(sts.max_age.total_seconds())
        notes["mta_sts"] = registry.mta_sts_note(sts.mode, None, age)
    if domain.spec.dmarc is None:
        return notes
    policy = domain.spec.dmarc.policy
    old = domain.state.dmarc
    if old is not None and old.policy == policy:
        notes["dmarc"] = registry.dmarc_note(policy, old.since.date())
    else:
        notes["dmarc"] = policy
    return notes


def fill_zone(
    zone: Zone,
    per_domain: Sequence[tuple[str, list[DesiredRecord]]],
    ttl: int = 3600,
    source: Any = None,
    lenient: bool = False,
    notes: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """Add the domains' records and their registry values (with `notes` per domain) to `zone`.

    A TXT name another source already filled (plain octoDNS with several sources) is merged:
    its non-SPF values stay and mailzone's SPF value replaces any other."""
    add_records(zone, desired_data(per_domain, ttl, notes), source, lenient)


def desired_data(
    per_domain: Sequence[tuple[str, list[DesiredRecord]]],
    ttl: int = 3600,
    notes: Mapping[str, Mapping[str, str]] | None = None,
) -> list[DesiredData]:
    """What `fill_zone` adds: (desired record or None for the registry, name, octoDNS data)."""
    out: list[DesiredData] = [
        (desired, desired.name, octodns_data(desired)) for desired in merge_zone(per_domain)
    ]
    values = [
        registry.encode(domain, {registry.owner_key(r) for r in records}, (notes or {}).get(domain))
        for domain, records in per_domain
    ]
    if values:
        out.append((None, REGISTRY_NAME, {"type": "TXT", "ttl": ttl, "values": sorted(values)}))
    return out


def add_records(
    zone: Zone,
    data: Sequence[DesiredData],
    source: Any = None,
    lenient: bool = False,
) -> None:
    """Add `desired_data`'s records to `zone` as octoDNS records (validated by octoDNS)."""
    for desired, name, fields in data:
        record = Record.new(zone, name, fields, source=source, lenient=lenient)
        spf_only = desired is not None and desired.spf_only
        present = zone.get_type(name, fields["type"]) if spf_only else None
        if present is not None:
            others = [v for v in present.values if not is_spf(v)]
            record = record.copy(values=others + list(record.values))
        zone.add_record(record, replace=present is not None, lenient=lenient)


class LeanRecord:
    """What the pre-filter reads of an octoDNS record (`name`, `_type`, `ttl`, `values` or
    `value`), the values processed by octoDNS's own value type but neither validated nor put
    in a zone: `fastpath` judges a set unchanged only when it equals a live set that passed the
    same checks, and a desired zone that takes the full plan is built with `add_records`."""

    __slots__ = ("_type", "name", "ttl", "value", "values")

    def __init__(self, name: str, data: Mapping[str, Any]) -> None:
        kind = Record.registered_types()[data["type"]]
        self.name = idna_encode(name) if name else name
        self._type = data["type"]
        self.ttl = int(data["ttl"])
        if "value" in data:
            self.value = kind._value_type.process(data["value"])
        else:
            self.values = sorted(kind._value_type.process(data["values"]))


@dataclass
class LeanZone:
    """The desired zone as the pre-filter reads it (`name`, `records`, `get_type`), built from
    `desired_data` without octoDNS's Zone and record objects."""

    name: str
    records: list[LeanRecord]

    def get_type(self, name: str, rtype: str) -> LeanRecord | None:
        """The record set of this name and type, if desired."""
        return next((r for r in self.records if r.name == name and r._type == rtype), None)


def lean_zone(name: str, data: Sequence[DesiredData]) -> LeanZone | None:
    """`desired_data` as a `LeanZone`; None when a name holds a CNAME and another set (octoDNS
    refuses that zone: the full plan says so)."""
    records = [LeanRecord(n, fields) for _, n, fields in data]
    cnames = {r.name for r in records if r._type == "CNAME"}
    if cnames and sum(r.name in cnames for r in records) > len(cnames):
        return None
    return LeanZone(name, records)


_TLSA_FIELDS = ("certificate_usage", "selector", "matching_type", "certificate_association_data")


def octodns_data(record: DesiredRecord) -> dict[str, object]:
    """The record as octoDNS data (TXT with `;` escaped, MX as preference/exchange, CNAME as
    its one `value`, TLSA as its four fields)."""
    values: list[object]
    if record.type == "TXT":
        values = [v.replace(";", "\\;") for v in record.values]
    elif record.type == "MX":
        values = [
            {"preference": int(p), "exchange": e} for p, e in (v.split() for v in record.values)
        ]
    elif record.type == "CNAME":  # one target: octoDNS's `value`
        return {"type": "CNAME", "ttl": record.ttl, "value": record.values[0]}
    elif record.type == "TLSA":
        values = [dict(zip(_TLSA_FIELDS, v.split(), strict=True)) for v in record.values]
    else:
        values = list(record.values)
    return {"type": record.type, "ttl": record.ttl, "values": values}
