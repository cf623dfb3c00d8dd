"""SPF: the domain's record from its sending hosts, and a HELO record per sending host."""

from __future__ import annotations

from mailzone.records.model import DesiredRecord, DomainInput, relative_name
from mailzone.spec.zone import Host, ZoneSpec, host_fqdn

_ALL = {"fail": "-all", "softfail": "~all", "neutral": "?all"}


def spf_value(spec: ZoneSpec) -> str:
    """`v=spf1` with the sending hosts' addresses (zero DNS lookups), extras, includes, all."""
    ip4: list[str] = []
    ip6: list[str] = []
    for host in spec.hosts:
        if "send" in host.roles:
            ip4 += host.ipv4
            ip6 += host.ipv6
    ip4 += spec.spf.ip4
    ip6 += spec.spf.ip6
    terms = ["v=spf1"]
    terms += [f"ip4:{a}" for a in dict.fromkeys(ip4)]
    terms += [f"ip6:{a}" for a in dict.fromkeys(ip6)]
    terms += [f"include:{d}" for d in spec.spf.include]
    terms += spec.spf.terms
    terms.append(_ALL[spec.spf.all])
    return " ".join(terms)


def helo_spf_value(host: Host) -> str:
    """The HELO identity's record: only this host may use its own name (RFC 7208 section 2.3)."""
    terms = ["v=spf1", *(f"ip4:{a}" for a in host.ipv4), *(f"ip6:{a}" for a in host.ipv6), "-all"]
    return " ".join(terms)


def spf_origin(spec: ZoneSpec) -> tuple[str, ...]:
    """The field adding the most to the domain's SPF record."""
    sending = [h for h in spec.hosts if "send" in h.roles]
    parts: dict[tuple[str, ...], int] = {
        ("hosts",): sum(len(a) + 5 for h in sending for a in (*h.ipv4, *h.ipv6)),
        ("spf", "ip4"): sum(len(a) + 5 for a in spec.spf.ip4),
        ("spf", "ip6"): sum(len(a) + 5 for a in spec.spf.ip6),
        ("spf", "include"): sum(len(d) + 9 for d in spec.spf.include),
        ("spf", "terms"): sum(len(t) + 1 for t in spec.spf.terms),
    }
    return max(parts, key=lambda loc: parts[loc])


def expand_spf(given: DomainInput) -> list[DesiredRecord]:
    """The domain's SPF value and a HELO SPF value per sending host inside the zone."""
    spec = given.spec
    zone = spec.zone_name
    apex = relative_name(spec.domain, zone)
    out = [DesiredRecord(apex, "TXT", spec.ttl, (spf_value(spec),), True, spf_origin(spec))]
    for i, host in enumerate(spec.hosts):
        if "send" in host.roles and not host.absolute:
            name = relative_name(host_fqdn(spec, host), zone)
            origin = ("hosts", i, "ipv4" if len(host.ipv4) >= len(host.ipv6) else "ipv6")
            out.append(DesiredRecord(name, "TXT", spec.ttl, (helo_spf_value(host),), True, origin))
    return out
