"""SPF: the domain's record from its sending hosts, and a HELO record per sending host."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailzone.records.model import DesiredRecord, relative_name

if TYPE_CHECKING:
    from mailzone.spec.zone import Host, ZoneSpec

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


def expand_spf(spec: ZoneSpec) -> list[DesiredRecord]:
    """The domain's SPF value and a HELO SPF value per sending host inside the zone."""
    from mailzone.spec.zone import host_fqdn

    zone = spec.zone_name
    out = [
        DesiredRecord(relative_name(spec.domain, zone), "TXT", spec.ttl, (spf_value(spec),), True)
    ]
    for host in spec.hosts:
        if "send" in host.roles and not host.absolute:
            name = relative_name(host_fqdn(spec, host), zone)
            out.append(DesiredRecord(name, "TXT", spec.ttl, (helo_spf_value(host),), True))
    return out
