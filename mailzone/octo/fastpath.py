"""The no-op pre-filter: a zone whose live records already are what the plan would make them is
reported unchanged without octoDNS's `provider.plan`.

It is a pre-filter, not a second differ: it only ever answers "unchanged" or "don't know", and
"don't know" sends the zone through the full plan. It applies only to targets whose live zone
mailzone reads itself (`bind_reader.FastRfc2136Provider`, `local.LocalZoneFileProvider`,
`pdns_reader.FastPowerDnsProvider`: they have `live_zone(name)`; every other provider always
takes the full plan), and only when all of this holds (otherwise the full plan runs):

- the task is a plain plan or apply: no `forget`, no released domain, no `rotate --apply`
  scope, no sub-zone of the zone managed by mailzone, and `MAILZONE_NO_FASTPATH` is not set;
- the live zone exists and every record set of a type the provider supports is in the
  canonical form (A, AAAA, MX, TXT, CNAME, NS, TLSA; owner names and targets of plain
  hostname labels; TXT of printable ASCII without quotes or backslashes; TLSA of the usages,
  selectors and matching types octoDNS validates, with at most 128 hex digits), or is of
  another type (CAA, SRV, ...) that octoDNS reads and carries over without a complaint and that no registry
  entry or desired record touches: anything else might make octoDNS warn, so it is not judged;
- the live `_mailzone` registry holds only values mailzone wrote, only claims a record family
  can make, and no domain the project does not know (no warning, no orphan note);
- every desired record set is live with the same TTL and values, as octoDNS compares them
  (TXT by its joined strings with `;` escaped, names and targets lower-cased, addresses
  normalised, TLSA association data lower-cased, values as a sorted list), and the registry owns it (no adoption); the apex SPF is
  compared after the processor's merge (foreign values kept, the set's live TTL while it has
  them), with no second SPF value live;
- no live record set the registry gives this run is missing from the desired zone (it would be
  deleted), nor a live CNAME mailzone did not create beside a desired record (an error);
- the registry the processor would write (settled notes included) is the live one, value for
  value, with the desired TTL.

When it holds, the full plan has no change, no adoption, no guard hit, no orphan and no warning,
which `tests/unit/test_fastpath.py` checks against the full plan on generated zones."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dns.name
from octodns.record import Record
from octodns.record.rr import Rrset
from octodns.record.target import _check_target_format  # the check octoDNS runs on targets
from octodns.zone import Zone

from mailzone.errors import MailzoneError
from mailzone.octo import registry
from mailzone.octo.ownership import (
    ZoneReport,
    is_spf,
    owns_spf_only,
    registry_values,
    settle_notes,
)
from mailzone.octo.registry import REGISTRY_NAME
from mailzone.records.families import generates

DISABLE_ENV = "MAILZONE_NO_FASTPATH"
CANONICAL_TYPES = frozenset({"A", "AAAA", "MX", "TXT", "CNAME", "NS", "TLSA"})
_LABEL = r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)"
_NAME = re.compile(rf"(?:(?:\*|{_LABEL})(?:\.{_LABEL})*)?")  # relative owner name, "" = apex
_TARGET = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.")  # absolute, lower-case
_HEX = re.compile(r"[0-9a-fA-F]{1,128}")  # longer: dnspython's text splits it, octoDNS chokes

MAX_TTL = 2**31 - 1
Key = tuple[str, str]  # (name relative to the zone, lower-case; type)
RRset = tuple[int, tuple[str, ...]]  # (TTL, values in octoDNS's text, sorted)


class Opaque(Exception):
    """A live record set the canonical form does not express: take the full plan."""


@dataclass
class LiveZone:
    """A zone as read from its target, in canonical form; `opaque`: something was not."""

    exists: bool
    sets: dict[Key, RRset] = field(default_factory=dict)
    foreign: set[Key] = field(default_factory=set)  # valid sets the canonical form lacks
    opaque: bool = False


def enabled() -> bool:
    """Whether the pre-filter may run (MAILZONE_NO_FASTPATH=1 turns it off)."""
    return os.environ.get(DISABLE_ENV, "") in ("", "0")


def relative(fqdn: str, zone_name: str) -> str:
    """`Mail.Example.org.` in `example.org.` → `mail` (Opaque if outside or not plain)."""
    name = fqdn.lower()
    if name == zone_name:
        return ""
    if not name.endswith("." + zone_name):
        raise Opaque(fqdn)
    name = name[: -len(zone_name) - 1]
    if not _NAME.fullmatch(name) or len(fqdn) > 253:
        raise Opaque(fqdn)
    return name


def target(name: str) -> str:
    """A host name target, lower-cased; Opaque unless plain labels, absolute, and a name
    octoDNS's target checks take without a word (a valid FQDN, not an address)."""
    name = name.lower()
    if not _TARGET.fullmatch(name) or _check_target_format(name, "CNAME"):
        raise Opaque(name)
    try:
        ipaddress.ip_address(name[:-1])
    except ValueError:
        return name
    raise Opaque(name)


def txt_value(strings: Iterable[bytes]) -> str:
    """A TXT rdata's strings as octoDNS's value: joined, `;` escaped; Opaque if not plain."""
    try:
        text = b"".join(strings).decode("ascii")
    except UnicodeDecodeError:
        raise Opaque("non-ASCII TXT") from None
    if not text or '"' in text or "\\" in text or not text.isprintable():
        raise Opaque("TXT")
    return text.replace(";", "\\;")


def lean_value(rtype: str, rdata: Any, origin: dns.name.Name) -> Any:
    """A dnspython rdata as the lean AXFR reader gives it (`dns/axfr.py`): names absolute;
    other types stay rdata."""
    if rtype == "A" or rtype == "AAAA":
        return rdata.address
    if rtype == "MX":
        return rdata.preference, rdata.exchange.derelativize(origin).to_text()
    if rtype == "TXT":
        return tuple(rdata.strings)
    if rtype == "CNAME" or rtype == "NS":
        return rdata.target.derelativize(origin).to_text()
    return rdata


def canonical_values(rtype: str, values: Iterable[Any]) -> tuple[str, ...]:
    """Lean values of one set → sorted octoDNS value texts (Opaque for other types)."""
    if rtype == "A" or rtype == "AAAA":
        texts = [str(ipaddress.ip_address(v)) for v in values]
    elif rtype == "MX":
        texts = [f"{preference} {target(exchange)}" for preference, exchange in values]
    elif rtype == "TXT":
        texts = [txt_value(strings) for strings in values]
    elif rtype == "CNAME" or rtype == "NS":
        texts = [target(v) for v in values]
    elif rtype == "TLSA":
        texts = [tlsa_text(v) for v in values]
    else:
        raise Opaque(rtype)
    return tuple(sorted(texts))


def tlsa_text(value: Any) -> str:
    """A TLSA value, (usage, selector, matching type, hex) or a dnspython rdata, as octoDNS's
    text: association data lower-cased, as octoDNS compares it; Opaque for a value octoDNS's
    validation refuses or its parser would not take."""
    if not isinstance(value, tuple):
        value = (value.usage, value.selector, value.mtype, value.cert.hex())
    usage, selector, mtype, data = value
    if not (0 <= usage <= 3 and 0 <= selector <= 1 and 0 <= mtype <= 2 and _HEX.fullmatch(data)):
        raise Opaque("TLSA")
    return f"{usage} {selector} {mtype} {data.lower()}"


def live_zone(
    zone_name: str,
    rrsets: Iterable[tuple[str, str, int, list[Any]]],
    valid: Callable[[str, str, str, int, list[Any]], bool] | None = None,
) -> LiveZone:
    """A live zone from (owner fqdn, type, TTL, lean values) of the sets the provider exposes
    (its supported types, without the apex NS); opaque when a set is not canonical, unless it
    is of another type and octoDNS reads it without a complaint (then it is in `foreign`):
    `valid(zone, fqdn, type, TTL, values)` says so (default: values are dnspython rdatas)."""
    live = LiveZone(exists=True)
    if valid is None:

        def valid(zone: str, fqdn: str, rtype: str, ttl: int, values: list[Any]) -> bool:
            return _valid(zone, fqdn, rtype, ttl, values, dns.name.from_text(zone))

    try:
        for fqdn, rtype, ttl, values in rrsets:
            key = (relative(fqdn, zone_name), rtype)
            if key in live.sets or key in live.foreign or ttl > MAX_TTL:
                raise Opaque(fqdn)
            if rtype in CANONICAL_TYPES:
                live.sets[key] = (ttl, canonical_values(rtype, values))
            elif valid(zone_name, fqdn, rtype, ttl, values):
                live.foreign.add(key)
            else:
                raise Opaque(fqdn)
    except (Opaque, ValueError, TypeError):
        live.opaque = True
    return live


def _valid(
    zone_name: str, fqdn: str, rtype: str, ttl: int, rdatas: list[Any], origin: dns.name.Name
) -> bool:
    """Whether octoDNS reads the set as the providers do, without a validation complaint."""
    try:
        texts = [r.to_text(origin=origin, relativize=False) for r in rdatas]
        zone = Zone(zone_name, [])
        record = Record.from_rrset(zone, Rrset(fqdn, rtype, ttl, texts), lenient=False)
        kept = record.copy(zone=zone, lenient=False)  # as the processor carries it over
        return record.changes(kept, None) is None
    except Exception:
        return False


def record_set(record: Record) -> RRset | None:
    """An octoDNS record's canonical set (None for a type the canonical form does not have)."""
    rtype = record._type
    if rtype == "MX":
        values = [f"{v.preference} {v.exchange}" for v in record.values]
    elif rtype == "CNAME":
        values = [str(record.value)]
    elif rtype == "TLSA":
        values = [v.to_rdata_text() for v in record.values]
    elif rtype in CANONICAL_TYPES:
        values = [str(v) for v in record.values]
    else:
        return None
    return record.ttl, tuple(sorted(values))


def unchanged(
    desired: Zone,
    live: LiveZone,
    supports: Iterable[str],
    known: set[str],
) -> ZoneReport | None:
    """The report of a zone whose full plan would be empty and say nothing; None: don't know.

    `desired` is the zone `fill_zone` would make (before the processor; `sync` passes a
    `desired.LeanZone`), `known` the project's domain names (a registry entry of another
    domain is an orphan note)."""
    if not live.exists or live.opaque:
        return None
    try:
        return _unchanged(desired, live, frozenset(supports), known)
    except Exception:  # anything unexpected: the full plan decides (and reports it)
        return None


def _unchanged(
    desired: Zone, live: LiveZone, supports: frozenset[str], known: set[str]
) -> ZoneReport | None:
    sets = live.sets
    want_rec = desired.get_type(REGISTRY_NAME, "TXT")
    live_reg = sets.get((REGISTRY_NAME, "TXT"))
    if want_rec is None or live_reg is None:
        return None
    live_values = [v.replace("\\;", ";") for v in live_reg[1]]
    if not all(map(registry.is_ours, live_values)):
        return None
    have = registry.decode(live_values)
    want = registry.decode(list(want_rec.values))
    claims = {c for entries in have.values() for c in entries}
    if not all(generates(*registry.split_key(c)) for c in claims) or not set(have) <= known:
        return None
    owned = frozenset(claims)
    owned_by_run = frozenset().union(*(have.get(d, frozenset()) for d in want))
    wanted = frozenset().union(*want.values()) if want else frozenset()

    desired_keys: set[Key] = set()
    for record in desired.records:
        if record.name == REGISTRY_NAME or record._type not in supports:
            if record.name != REGISTRY_NAME:
                return None
            continue
        key = (record.name, record._type)
        desired_keys.add(key)
        if not _kept(record, sets, owned, wanted):
            return None

    for (name, rtype), (_ttl, values) in sets.items():
        if (name, rtype) in desired_keys or (name, rtype) == (REGISTRY_NAME, "TXT"):
            continue
        own = registry.entry(rtype, name)
        if owns_spf_only(name, rtype, owned_by_run):
            if any(map(is_spf, values)):
                return None  # our SPF value would go
        elif own in owned_by_run:
            return None  # ours and no longer wanted: deleted

    desired_names = {name for name, _ in desired_keys}
    for name, rtype in live.foreign:  # valid, but only where nothing of ours is involved
        entries = {registry.entry(rtype, name)}
        if rtype == "TXT":
            entries.add(registry.entry("SPF", name))
        if (rtype == "CNAME" and name in desired_names) or entries & owned:
            return None
    try:
        notes = settle_notes(
            list(want_rec.values), live_values, want, frozenset(), frozenset(), ZoneReport()
        )
    except MailzoneError:  # a refusal (MTA-STS removed too early): the full plan words it
        return None
    claimed = {d: set(e) for d, e in want.items()}
    expected = registry_values(have, claimed, notes)
    if (
        want_rec.ttl,
        tuple(sorted(expected)),
    ) != live_reg:  # a `;` in it: never equal, as in octoDNS
        return None
    return ZoneReport(live_registry=have)


def _kept(
    record: Record, sets: Mapping[Key, RRset], owned: frozenset[str], wanted: frozenset[str]
) -> bool:
    """Whether the processor and octoDNS leave this desired record set as it is live."""
    name, rtype = record.name, record._type
    if rtype != "CNAME" and (name, "CNAME") in sets and registry.entry("CNAME", name) not in owned:
        return False  # a foreign CNAME: the full plan refuses
    live = sets.get((name, rtype))
    mine = record_set(record)
    if live is None or mine is None:
        return False
    spf_entry = registry.entry("SPF", name)
    if rtype == "TXT" and spf_entry in wanted:
        live_spf = [v for v in live[1] if is_spf(v)]
        others = [v for v in live[1] if not is_spf(v)]
        if spf_entry not in owned or len(live_spf) > 1:
            return False  # an adoption, or a warning about several SPF values
        merged = others + [v for v in mine[1] if is_spf(v)]
        ttl = live[0] if others else mine[0]
        return (ttl, tuple(sorted(merged))) == live
    own = registry.entry(rtype, name)
    if own in wanted and own not in owned:
        return False  # an adoption
    return mine == live
