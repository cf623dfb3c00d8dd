"""Desired records → an octoDNS zone, with the registry value for each domain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from octodns.record import Record
from octodns.zone import Zone

from mailzone.octo import registry
from mailzone.octo.ownership import is_spf
from mailzone.records.domain import DesiredRecord, merge_zone
from mailzone.records.model import REGISTRY_NAME


def fill_zone(
    zone: Zone,
    per_domain: Sequence[tuple[str, list[DesiredRecord]]],
    ttl: int = 3600,
    source: Any = None,
    lenient: bool = False,
) -> None:
    """Add the domains' records and their registry values to `zone`.

    A TXT name another source already filled (plain octoDNS with several sources) is merged:
    its non-SPF values stay and mailzone's SPF value replaces any other."""
    for desired in merge_zone(per_domain):
        record = Record.new(
            zone, desired.name, desired.octodns_data(), source=source, lenient=lenient
        )
        present = zone.get_type(desired.name, desired.type) if desired.spf_only else None
        if present is not None:
            others = [v for v in present.values if not is_spf(v)]
            record = record.copy(values=others + list(record.values))
        zone.add_record(record, replace=present is not None, lenient=lenient)
    values = [
        registry.encode(domain, {r.owner_key for r in records}) for domain, records in per_domain
    ]
    if values:
        data = {"type": "TXT", "ttl": ttl, "values": sorted(values)}
        zone.add_record(
            Record.new(zone, REGISTRY_NAME, data, source=source, lenient=lenient), lenient=lenient
        )
