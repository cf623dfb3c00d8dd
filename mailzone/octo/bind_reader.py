"""A faster octodns-bind Rfc2136Provider: same records read and written, less work.

The stock provider builds a dnspython zone from the AXFR, turns every rdata into text and parses
that text back (the deprecated `Rr` path): over half of a plan's time against BIND. This reader
takes the transfer's rdatasets straight into octoDNS data for the types mail zones are made of
(A, AAAA, MX, TXT) and hands every other type to octoDNS's own parser, so the records are the
same. A test compares both readers on a real BIND. Writing is the stock RFC 2136 code, except
that the update's rdatas are built directly for the same types instead of through dnspython's
text tokenizer (a DKIM key is ~400 characters read one by one).

For mailzone's no-op pre-filter (`fastpath.py`), `live_zone` reads the zone with the lean AXFR
reader (`mailzone/dns/axfr.py`) into the canonical form; when the zone needs octoDNS's plan
after all, `populate` parses the same messages with dnspython, so its records are the ones the
reader above always made."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.MX
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.update
import dns.xfr
from octodns.record import Create, Record, Update
from octodns.record.rr import Rrset
from octodns_bind import (
    AxfrSourceZoneTransferFailed,
    Rfc2136Provider,
    Rfc2136ProviderUpdateFailed,
)

from mailzone.dns import axfr
from mailzone.dns.wire import Unusual
from mailzone.octo import fastpath

_IN = dns.rdataclass.IN
_Sets = dict[tuple[dns.name.Name, str], tuple[int, list[Any]]]
_QUOTED = re.compile(r'"((?:[^"\\]|\\;)*)"\s*')


def _plain_txt(rdata: Any) -> str | None:
    """A TXT value in octoDNS's internal form, or None when only octoDNS's parser may decide."""
    try:
        text = b"".join(rdata.strings).decode("ascii")
    except UnicodeDecodeError:
        return None
    if any(c in text for c in '"\\') or not text.isprintable():
        return None
    return text.replace(";", "\\;")


def _data(rtype: str, ttl: int, rdatas: list[Any]) -> dict[str, Any] | None:
    if rtype in ("A", "AAAA"):
        return {"type": rtype, "ttl": ttl, "values": [r.address for r in rdatas]}
    if rtype == "MX":
        values = [{"preference": r.preference, "exchange": r.exchange.to_text()} for r in rdatas]
        return {"type": rtype, "ttl": ttl, "values": values}
    if rtype == "TXT":
        texts = [_plain_txt(r) for r in rdatas]
        if all(t is not None for t in texts):
            return {"type": rtype, "ttl": ttl, "values": texts}
    return None


class _Reads:
    """The TSIG parameters, parsed once, and the connections kept between transfers."""

    def __init__(self, auth: dict[str, Any]) -> None:
        self.auth = auth
        self.conns = axfr.Connections()


class FastRfc2136Provider(Rfc2136Provider):
    """octodns_bind.Rfc2136Provider with a direct AXFR reader; configured the same way."""

    def live_zone(self, zone_name: str) -> fastpath.LiveZone:
        """The zone by AXFR (the lean reader, else dnspython's) in the pre-filter's canonical
        form; the next `populate` of the zone uses the same transfer."""
        read = self._reads()
        try:
            found = axfr.transfer(
                self.host, self.port, zone_name, self.timeout, **read.auth, connections=read.conns
            )
        except TimeoutError:  # as dnspython's transfer says it, without a second wait
            raise AxfrSourceZoneTransferFailed(dns.exception.Timeout()) from None
        except Unusual:  # dnspython's transfer reports what went wrong
            origin = dns.name.from_text(zone_name)
            sets = self._transfer(zone_name)
            self._kept()[zone_name] = sets
            if sets is None:
                return fastpath.LiveZone(exists=False)
            return fastpath.live_zone(
                zone_name,
                (
                    (
                        name.to_text(),
                        rtype,
                        ttl,
                        [fastpath.lean_value(rtype, r, origin) for r in rdatas],
                    )
                    for (name, rtype), (ttl, rdatas) in sets.items()
                    if not (rtype == "NS" and name == origin)
                ),
            )
        self._kept()[zone_name] = found
        return fastpath.live_zone(zone_name, self._lean_sets(found, zone_name))

    def _lean_sets(
        self, found: axfr.Transfer, zone_name: str
    ) -> list[tuple[str, str, int, list[Any]]]:
        """The transfer's RRs of supported types as sets (the smallest TTL of each), the apex
        NS left out as octoDNS leaves it out of a plan that has none."""
        sets: dict[tuple[str, str], tuple[str, int, list[Any]]] = {}
        apex = zone_name.lower()
        for owner, rtype, ttl, value in found.rrs:
            if rtype not in self.SUPPORTS:
                continue
            key = (owner.lower(), rtype)
            if key == (apex, "NS"):
                continue
            got = sets.get(key)
            if got is None:
                sets[key] = (owner, ttl, [value])
            else:
                if value not in got[2]:
                    got[2].append(value)
                sets[key] = (got[0], min(got[1], ttl), got[2])
        return [(owner, rtype, ttl, values) for (_, rtype), (owner, ttl, values) in sets.items()]

    def _kept(self) -> dict[str, _Sets | axfr.Transfer | None]:
        """Transfers `live_zone` made, for the next `populate` of each zone (no `__init__` of
        its own: the options are checked against octodns-bind's signature)."""
        kept: dict[str, _Sets | axfr.Transfer | None] = self.__dict__.setdefault("_read", {})
        return kept

    def _reads(self) -> _Reads:
        """What every `live_zone` of this provider shares (built on first use)."""
        reads: _Reads | None = self.__dict__.get("_lean")
        if reads is None:
            reads = self.__dict__.setdefault("_lean", _Reads(self._auth_params()))
        return reads

    def forget_live(self, zone_name: str) -> None:
        """Drop the transfer `live_zone` kept (the zone needs no plan)."""
        self._kept().pop(zone_name, None)

    def _transfer(self, zone_name: str) -> _Sets | None:
        """The zone's record sets of supported types by AXFR; None when the server does not
        serve the zone (it answers the transfer NOTAUTH; a transfer it does not allow is
        REFUSED, an error)."""
        try:
            return self._collect(
                dns.query.xfr(
                    self.host,
                    zone_name,
                    port=self.port,
                    timeout=self.timeout,
                    lifetime=self.timeout,
                    relativize=False,
                    **self._auth_params(),
                )
            )
        except dns.xfr.TransferError as err:
            if err.rcode == dns.rcode.NOTAUTH:
                return None
            raise AxfrSourceZoneTransferFailed(err) from None
        except dns.exception.DNSException as err:
            raise AxfrSourceZoneTransferFailed(err) from None

    def _collect(self, messages: Iterable[dns.message.Message]) -> _Sets:
        """The record sets of supported types in the transfer's messages."""
        sets: _Sets = {}
        for message in messages:
            for rrset in message.answer:
                rtype = dns.rdatatype.to_text(rrset.rdtype)
                if rtype not in self.SUPPORTS:
                    continue
                ttl, rdatas = sets.get((rrset.name, rtype), (rrset.ttl, []))
                rdatas += [r for r in rrset if r not in rdatas]
                sets[(rrset.name, rtype)] = (min(ttl, rrset.ttl), rdatas)
        return sets

    def populate(self, zone: Any, target: bool = False, lenient: bool = False) -> bool:
        """Read the zone by AXFR into `zone` (or take the transfer `live_zone` just made);
        False when the server does not serve the zone."""
        read = self._kept()
        kept = read.pop(zone.name) if zone.name in read else self._transfer(zone.name)
        if isinstance(kept, axfr.Transfer):
            keyring = self._auth_params().get("keyring")
            kept = self._collect(axfr.messages(kept, keyring))
        sets = kept
        if sets is None:
            return False
        for (name, rtype), (ttl, rdatas) in sorted(
            sets.items(), key=lambda kv: (kv[0][0], kv[0][1])
        ):
            fqdn = name.to_text()
            data = _data(rtype, ttl, rdatas)
            if data is None:  # everything else takes octoDNS's own text parser
                rrset = Rrset(fqdn, rtype, ttl, [r.to_text() for r in rdatas])
                record = Record.from_rrset(zone, rrset, lenient=lenient, source=self)
            else:
                record = Record.new(
                    zone, zone.hostname_from_fqdn(fqdn), data, source=self, lenient=lenient
                )
            zone.add_record(record, lenient=lenient)
        return True

    def _apply(self, plan: Any) -> bool:
        """octodns-bind's RFC 2136 apply, with each rdata built by `rdatas_of`."""
        desired = plan.desired
        auth_params = self._auth_params()
        for batch in self._batch_changes(plan.changes):
            update = dns.update.UpdateMessage(desired.name, **auth_params)
            for change in batch:
                # the stock provider's `rrs` (not `to_rrset`): the same TXT chunking as octodns-sync
                name, ttl, rtype, texts = change.record.rrs
                rdatas = rdatas_of(rtype, texts)
                if isinstance(change, Create):
                    update.add(name, ttl, *rdatas)
                elif isinstance(change, Update):
                    update.replace(name, ttl, *rdatas)
                else:
                    update.delete(name, *rdatas)
            response: dns.message.Message = dns.query.tcp(
                update, self.host, port=self.port, timeout=self.timeout
            )
            if response.rcode() != dns.rcode.NOERROR:
                raise Rfc2136ProviderUpdateFailed(dns.rcode.to_text(response.rcode()))
        return True


def rdatas_of(rtype: str, texts: list[str]) -> list[dns.rdata.Rdata]:
    """Rdata objects for octoDNS's presentation texts: built directly for A, AAAA, MX and plain
    TXT (only `\\;` escapes), through dnspython's parser for everything else."""
    out: list[dns.rdata.Rdata] = []
    for text in texts:
        rdata: dns.rdata.Rdata | None = None
        if rtype == "A":
            rdata = dns.rdtypes.IN.A.A(_IN, dns.rdatatype.A, text)
        elif rtype == "AAAA":
            rdata = dns.rdtypes.IN.AAAA.AAAA(_IN, dns.rdatatype.AAAA, text)
        elif rtype == "MX":
            preference, exchange = text.split()
            rdata = dns.rdtypes.ANY.MX.MX(
                _IN, dns.rdatatype.MX, int(preference), dns.name.from_text(exchange)
            )
        elif rtype == "TXT":
            strings = _plain_strings(text)
            if strings is not None:
                rdata = dns.rdtypes.ANY.TXT.TXT(_IN, dns.rdatatype.TXT, strings)
        out.append(rdata or dns.rdata.from_text(_IN, rtype, text))
    return out


def _plain_strings(text: str) -> list[bytes] | None:
    """`"a\\;b" "c"` → [b"a;b", b"c"]; None for anything but quoted ASCII with `\\;` escapes."""
    strings = []
    pos = 0
    for match in _QUOTED.finditer(text):
        if match.start() != pos:
            return None
        strings.append(match.group(1).replace("\\;", ";"))
        pos = match.end()
    if pos != len(text) or not strings or not all(s.isascii() and s.isprintable() for s in strings):
        return None
    encoded = [s.encode("ascii") for s in strings]
    return encoded if all(len(b) <= 255 for b in encoded) else None
