"""Spec + state + imported keys → the records a domain needs. Pure: no network, no clock, no
files. The families are listed in `records.families`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mailzone.errors import SpecError
from mailzone.records.families import FAMILIES
from mailzone.records.model import DesiredRecord, DomainInput
from mailzone.spec.dkim_key import PublicKey
from mailzone.spec.state import DomainState
from mailzone.spec.zone import ZoneSpec

__all__ = ["DesiredRecord", "expand_domain", "merge_zone"]


def expand_domain(
    spec: ZoneSpec, state: DomainState, imported: Mapping[str, PublicKey]
) -> list[DesiredRecord]:
    """Every record one domain wants, sorted by name and type."""
    given = DomainInput(spec, state, imported)
    records = [record for family in FAMILIES for record in family.expand(given)]
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
