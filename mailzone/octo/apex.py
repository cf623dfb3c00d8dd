"""What a zone file needs at its apex to load in BIND, Knot and NSD: SOA, NS and glue.

Pure functions on a parsed `dns.zone.Zone` (names relative to the origin): the `local` provider
calls :func:`settle_apex` before every write. The rules, each one a checker's:

- an SOA and an apex NS set (all three refuse a zone without them);
- every nameserver inside the zone has an A or AAAA record in it (`named-checkzone`: "NS
  'ns1.example.com' has no address records"; `kzonecheck`: "missing glue record").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dns.name
import dns.rdataset
import dns.zone

from mailzone.errors import MailzoneError

ADDRESS_TYPES = ("A", "AAAA")


class ApexError(MailzoneError):
    """The zone's apex cannot be made to load (an in-zone nameserver without an address)."""


@dataclass(frozen=True)
class Apex:
    """What the provider file says about the apex; unset fields leave an existing file's own.

    `nameservers` and `glue` take absolute, lower-case names; `glue` maps a nameserver to its
    addresses. `fallback` is the NS set of a new file when `nameservers` is empty."""

    fallback: Sequence[str]
    nameservers: Sequence[str] = ()
    glue: Mapping[str, Sequence[str]] = field(default_factory=dict)
    primary: str | None = None
    rname: str | None = None
    ttl: int = 3600
    timers: tuple[int, int, int, int] = (3600, 600, 604800, 300)  # refresh retry expire minimum


def settle_apex(parsed: dns.zone.Zone, apex: Apex) -> None:
    """Set the SOA names, the NS set and the glue of `parsed` as `apex` says (see the module)."""
    origin = parsed.origin
    assert origin is not None
    top = dns.name.empty
    repair = _unloadable_old_default(parsed, apex)
    chosen = list(apex.nameservers) or list(apex.fallback)
    if parsed.get_rdataset(top, "NS") is None or apex.nameservers or repair:
        parsed.replace_rdataset(top, _rdataset("NS", chosen, origin, apex.ttl))
    mname = apex.primary or chosen[0]
    rname = apex.rname or f"hostmaster.{origin.to_text()}"
    soa_set = parsed.get_rdataset(top, "SOA")
    if soa_set is None:
        refresh, retry, expire, minimum = apex.timers
        soa = f"{mname} {rname} 0 {refresh} {retry} {expire} {minimum}"
        parsed.replace_rdataset(top, _rdataset("SOA", [soa], origin, apex.ttl))
    else:
        changes: dict[str, Any] = {}
        if apex.primary or apex.nameservers or repair:
            changes["mname"] = dns.name.from_text(mname).relativize(origin)
        if apex.rname:
            changes["rname"] = dns.name.from_text(rname).relativize(origin)
        if changes:
            old: Any = soa_set[0]
            parsed.replace_rdataset(
                top, dns.rdataset.from_rdata(soa_set.ttl, old.replace(**changes))
            )
    _write_glue(parsed, apex)


def nameservers_of(parsed: dns.zone.Zone) -> list[dns.name.Name]:
    """The apex NS targets, absolute."""
    assert parsed.origin is not None
    ns_set = parsed.get_rdataset(dns.name.empty, "NS")
    return [r.target.derelativize(parsed.origin) for r in ns_set or []]


def _write_glue(parsed: dns.zone.Zone, apex: Apex) -> None:
    origin = parsed.origin
    assert origin is not None
    for target in nameservers_of(parsed):
        if not target.is_subdomain(origin):
            continue
        name = target.relativize(origin)
        addresses = apex.glue.get(target.to_text().lower())
        if addresses is not None:
            for rtype in ADDRESS_TYPES:
                values = [a for a in addresses if (":" in a) == (rtype == "AAAA")]
                if values:
                    parsed.replace_rdataset(name, _rdataset(rtype, values, origin, apex.ttl))
                else:
                    parsed.delete_rdataset(name, rtype)
        elif not _has_address(parsed, name):
            shown = target.to_text()
            raise ApexError(
                f"nameserver {shown} is inside zone {origin.to_text()} but has no A/AAAA "
                f"record there: add it to the provider file as `glue: {{{shown}: [ADDRESS]}}`, "
                "or set `nameservers:` to servers outside the zone"
            )


def _has_address(parsed: dns.zone.Zone, name: dns.name.Name) -> bool:
    return any(parsed.get_rdataset(name, rtype) is not None for rtype in ADDRESS_TYPES)


def _unloadable_old_default(parsed: dns.zone.Zone, apex: Apex) -> bool:
    """Whether the apex NS is mailzone's old default, `ns1.<zone>` with no address and no glue:
    files written before the default changed get the new default on their next write."""
    assert parsed.origin is not None
    old = dns.name.from_text("ns1", parsed.origin)
    return (
        not apex.nameservers
        and nameservers_of(parsed) == [old]
        and old.to_text().lower() not in apex.glue
        and not _has_address(parsed, dns.name.from_text("ns1", None))
    )


def _rdataset(
    rtype: str, rdatas: Sequence[str], origin: dns.name.Name, ttl: int
) -> dns.rdataset.Rdataset:
    return dns.rdataset.from_text_list(
        "IN", rtype, ttl, list(rdatas), origin=origin, relativize_to=origin
    )
