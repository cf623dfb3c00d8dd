"""Spec + state → the records a domain needs. Pure: no network, no clock.

One module per record family: mx (MX and addresses), spf, dkim, dmarc."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mailzone.errors import SpecError
from mailzone.records.dkim import expand_dkim
from mailzone.records.dmarc import expand_dmarc
from mailzone.records.model import DesiredRecord
from mailzone.records.mx import expand_addresses, expand_mx
from mailzone.records.spf import expand_spf
from mailzone.spec.dkim_key import PublicKey
from mailzone.spec.state import DomainState
from mailzone.spec.zone import ZoneSpec

__all__ = ["DesiredRecord", "expand_domain", "merge_zone"]


def expand_domain(
    spec: ZoneSpec, state: DomainState, imported: Mapping[str, PublicKey]
) -> list[DesiredRecord]:
    """Every record one domain wants, sorted by name and type."""
    records = [
        *expand_mx(spec),
        *expand_addresses(spec),
        *expand_spf(spec),
        *expand_dkim(spec, state, imported),
        *expand_dmarc(spec),
    ]
    seen: dict[tuple[str, str], DesiredRecord] = {}
    for record in records:
        key = (record.name, record.type)
        if key in seen:
            raise SpecError(
                f"{spec.domain}: two {record.type} record sets at '{record.name or '@'}' "
                "(a host name collides with another record)"
            )
        seen[key] = record
    return sorted(records)


def merge_zone(per_domain: Iterable[tuple[str, list[DesiredRecord]]]) -> list[DesiredRecord]:
    """Records of all domains sharing a zone; the same name and type from two domains is an error."""
    owners: dict[tuple[str, str], tuple[str, DesiredRecord]] = {}
    for domain, records in per_domain:
        for record in records:
            key = (record.name, record.type)
            if key in owners and owners[key][0] != domain:
                raise SpecError(
                    f"{domain} and {owners[key][0]} both want {record.type} at '{record.name or '@'}' "
                    "in the same zone"
                )
            owners[key] = (domain, record)
    return sorted(r for _, r in owners.values())
