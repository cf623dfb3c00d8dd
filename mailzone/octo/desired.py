"""Desired records → an octoDNS zone, with the registry value for each domain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from octodns.record import Record
from octodns.zone import Zone

from mailzone.octo import registry
from mailzone.octo.ownership import is_spf
from mailzone.octo.registry import REGISTRY_NAME
from mailzone.records.domain import DesiredRecord, merge_zone
from mailzone.repo.project import Domain


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
    for desired in merge_zone(per_domain):
        record = Record.new(
            zone, desired.name, octodns_data(desired), source=source, lenient=lenient
        )
        present = zone.get_type(desired.name, desired.type) if desired.spf_only else None
        if present is not None:
            others = [v for v in present.values if not is_spf(v)]
            record = record.copy(values=others + list(record.values))
        zone.add_record(record, replace=present is not None, lenient=lenient)
    values = [
        registry.encode(domain, {registry.owner_key(r) for r in records}, (notes or {}).get(domain))
        for domain, records in per_domain
    ]
    if values:
        data = {"type": "TXT", "ttl": ttl, "values": sorted(values)}
        zone.add_record(
            Record.new(zone, REGISTRY_NAME, data, source=source, lenient=lenient), lenient=lenient
        )


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
