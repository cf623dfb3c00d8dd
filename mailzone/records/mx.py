"""MX records and the A/AAAA records of the mail hosts and the apex."""

from __future__ import annotations

from mailzone.records.model import DesiredRecord, DomainInput, relative_name
from mailzone.spec.zone import host_fqdn


def expand_mx(given: DomainInput) -> list[DesiredRecord]:
    """One MX RRset at the domain, one value per host with the mx role."""
    spec = given.spec
    values = sorted((h.mx_priority, host_fqdn(spec, h)) for h in spec.hosts if "mx" in h.roles)
    name = relative_name(spec.domain, spec.zone_name)
    return [DesiredRecord(name, "MX", spec.ttl, tuple(f"{p} {target}." for p, target in values))]


def expand_addresses(given: DomainInput) -> list[DesiredRecord]:
    """A/AAAA for every host named relative to the domain, and for the apex if given."""
    spec = given.spec
    out: list[DesiredRecord] = []
    zone = spec.zone_name
    targets = [(host_fqdn(spec, h), h.ipv4, h.ipv6) for h in spec.hosts if not h.absolute]
    if spec.apex is not None:
        targets.append((spec.domain, spec.apex.ipv4, spec.apex.ipv6))
    for fqdn, ipv4, ipv6 in targets:
        name = relative_name(fqdn, zone)
        if ipv4:
            out.append(DesiredRecord(name, "A", spec.ttl, tuple(sorted(ipv4))))
        if ipv6:
            out.append(DesiredRecord(name, "AAAA", spec.ttl, tuple(sorted(ipv6))))
    return out
