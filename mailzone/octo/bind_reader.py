"""A faster octodns-bind Rfc2136Provider: same records read and written, less work.

The stock provider builds a dnspython zone from the AXFR, turns every rdata into text and parses
that text back (the deprecated `Rr` path): over half of a plan's time against BIND. This reader
reads the transfer with the lean AXFR reader (`mailzone/dns/axfr.py`, dnspython's transfer when
it finds anything unusual) and turns the values straight into octoDNS data for the types mail
zones are made of (A, AAAA, MX, plain TXT); every other type goes through octoDNS's own parser,
so the records are the same. A test compares both readers on a real BIND. Writing is the stock
RFC 2136 apply with each batch packed by hand (`mailzone/dns/update.py`), TSIG-signed and
checked as the transfer is, and a zone's batches over one connection.

For mailzone's no-op pre-filter (`fastpath.py`), `live_zone` reads the zone into the canonical
form; when the zone needs octoDNS's plan after all, `populate` takes the same transfer."""

from __future__ import annotations

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
import dns.rdtypes.ANY.TXT
import dns.xfr
from octodns.record import Create, Record, Update
from octodns.record.rr import Rrset
from octodns_bind import (
    AxfrSourceZoneTransferFailed,
    Rfc2136Provider,
    Rfc2136ProviderUpdateFailed,
)

from mailzone.dns import axfr, update
from mailzone.dns.wire import Unusual
from mailzone.octo import fastpath

_IN = dns.rdataclass.IN
_Sets = dict[tuple[dns.name.Name, str], tuple[int, list[Any]]]


def _plain_txt(strings: tuple[bytes, ...]) -> str | None:
    """A TXT value in octoDNS's internal form, or None when only octoDNS's parser may decide."""
    try:
        text = b"".join(strings).decode("ascii")
    except UnicodeDecodeError:
        return None
    if any(c in text for c in '"\\') or not text.isprintable():
        return None
    return text.replace(";", "\\;")


def _data(rtype: str, ttl: int, values: list[Any]) -> dict[str, Any] | None:
    """octoDNS data of a set of A, AAAA, MX or plain TXT values, as the lean reader has them
    (`axfr.Transfer`) or as dnspython rdatas; None for anything else."""
    if rtype in ("A", "AAAA"):
        return {"type": rtype, "ttl": ttl, "values": [_lean(rtype, v) for v in values]}
    if rtype == "MX":
        pairs = [_lean(rtype, v) for v in values]
        mx = [{"preference": p, "exchange": x} for p, x in pairs]
        return {"type": rtype, "ttl": ttl, "values": mx}
    if rtype == "TXT":
        texts = [_plain_txt(_lean(rtype, v)) for v in values]
        if all(t is not None for t in texts):
            return {"type": rtype, "ttl": ttl, "values": texts}
    return None


class _Reads:
    """The TSIG parameters, parsed once, and the connections kept between transfers."""

    def __init__(self, auth: dict[str, Any]) -> None:
        self.auth = auth
        self.conns = axfr.Connections()


def _lean(rtype: str, value: Any) -> Any:
    """A lean reader's value of a dnspython rdata (the values of `axfr.LEAN` types)."""
    if not isinstance(value, dns.rdata.Rdata):
        return value
    if rtype in ("A", "AAAA"):
        return value.address  # type: ignore[attr-defined]
    if rtype == "MX":
        return value.preference, value.exchange.to_text()  # type: ignore[attr-defined]
    return tuple(value.strings)  # type: ignore[attr-defined]


def _text(rtype: str, value: Any) -> str:
    """The presentation text of a value, lean or dnspython's."""
    if isinstance(value, dns.rdata.Rdata):
        return value.to_text()
    if rtype == "TXT":
        return dns.rdtypes.ANY.TXT.TXT(_IN, dns.rdatatype.TXT, value).to_text()
    return str(value)  # CNAME, NS: the target


class FastRfc2136Provider(Rfc2136Provider):
    """octodns_bind.Rfc2136Provider with a direct AXFR reader; configured the same way."""

    def live_zone(self, zone_name: str) -> fastpath.LiveZone:
        """The zone by AXFR (the lean reader, else dnspython's) in the pre-filter's canonical
        form; the next `populate` of the zone uses the same transfer."""
        found = self._kept()[zone_name] = self._fetch(zone_name)
        if found is None:
            return fastpath.LiveZone(exists=False)
        if isinstance(found, axfr.Transfer):
            return fastpath.live_zone(zone_name, self._lean_sets(found, zone_name))
        origin = dns.name.from_text(zone_name)
        return fastpath.live_zone(
            zone_name,
            (
                (
                    name.to_text(),
                    rtype,
                    ttl,
                    [fastpath.lean_value(rtype, r, origin) for r in rdatas],
                )
                for (name, rtype), (ttl, rdatas) in found.items()
                if not (rtype == "NS" and name == origin)
            ),
        )

    def _fetch(self, zone_name: str) -> _Sets | axfr.Transfer | None:
        """The zone by the lean AXFR reader, else by dnspython's (which reports what went wrong);
        None when the server does not serve the zone."""
        read = self._reads()
        try:
            return axfr.transfer(
                self.host, self.port, zone_name, self.timeout, **read.auth, connections=read.conns
            )
        except TimeoutError:  # as dnspython's transfer says it, without a second wait
            raise AxfrSourceZoneTransferFailed(dns.exception.Timeout()) from None
        except Unusual:
            return self._transfer(zone_name)

    def _lean_sets(
        self, found: axfr.Transfer, zone_name: str, apex_ns: bool = False
    ) -> list[tuple[str, str, int, list[Any]]]:
        """The transfer's RRs of supported types as sets (the smallest TTL of each); the apex
        NS left out (unless `apex_ns`) as octoDNS leaves it out of a plan that has none."""
        sets: dict[tuple[str, str], tuple[str, int, list[Any]]] = {}
        apex = zone_name.lower()
        for owner, rtype, ttl, value in found.rrs:
            if rtype not in self.SUPPORTS:
                continue
            key = (owner.lower(), rtype)
            if key == (apex, "NS") and not apex_ns:
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

    def send_ahead(self, zone_name: str) -> bool:
        """Send the zone's AXFR query now, for this thread's next `live_zone` or `populate` of
        it to read (`axfr.Connections.send_ahead`); False when it could not be sent."""
        read = self._reads()
        return read.conns.send_ahead(self.host, self.port, zone_name, self.timeout, **read.auth)

    def drop_ahead(self) -> None:
        """Close what was sent ahead and never read (the zone's plan stopped before)."""
        self._reads().conns.close_sent()

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
        kept = read.pop(zone.name) if zone.name in read else self._fetch(zone.name)
        if kept is None:
            return False
        if isinstance(kept, axfr.Transfer):
            sets = self._lean_sets(kept, zone.name, apex_ns=True)
        else:
            sets = [
                (name.to_text(), rtype, ttl, rdatas)
                for (name, rtype), (ttl, rdatas) in kept.items()
            ]
        for fqdn, rtype, ttl, values in sorted(
            sets, key=lambda s: (dns.name.from_text(s[0]), s[1])
        ):
            data = _data(rtype, ttl, values)
            if data is None:  # everything else takes octoDNS's own text parser
                rrset = Rrset(fqdn, rtype, ttl, [_text(rtype, v) for v in values])
                record = Record.from_rrset(zone, rrset, lenient=lenient, source=self)
            else:
                record = Record.new(
                    zone, zone.hostname_from_fqdn(fqdn), data, source=self, lenient=lenient
                )
            zone.add_record(record, lenient=lenient)
        return True

    def _apply(self, plan: Any) -> bool:
        """octodns-bind's RFC 2136 apply, each batch packed by hand (`mailzone/dns/update.py`),
        the zone's batches over one connection."""
        zone = plan.desired.name
        params = self._auth_params()
        keyring = params.get("keyring")
        key = None if keyring is None else axfr.tsig_key(keyring, params.get("keyalgorithm"))
        try:
            with update.Connection(self.host, self.port, self.timeout) as connection:
                for batch in self._batch_changes(plan.changes):
                    rcode = connection.update(zone, [_change(c) for c in batch], key)
                    if rcode != dns.rcode.NOERROR:
                        raise Rfc2136ProviderUpdateFailed(
                            dns.rcode.to_text(dns.rcode.Rcode.make(rcode))
                        )
        except TimeoutError:  # as dnspython's query says it
            raise dns.exception.Timeout() from None
        return True


def _change(change: Any) -> update.Change:
    """An octoDNS change as the update packer takes it: the stock provider's `rrs` (not
    `to_rrset`), so TXT values are chunked as octodns-sync chunks them."""
    name, ttl, rtype, texts = change.record.rrs
    op: update.Op = (
        "add"
        if isinstance(change, Create)
        else "replace"
        if isinstance(change, Update)
        else "delete"
    )
    return op, name, ttl, rtype, texts
