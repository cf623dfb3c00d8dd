"""A zone transfer (AXFR over TCP, TSIG-signed) read without dnspython's per-message objects.

`dns.query.xfr` turns every message into a `dns.message.Message`: names, rdata objects and
rdatasets, most of a no-op plan's time. Here the messages are read off the socket as bytes, each
one's TSIG is checked with dnspython's own `dns.tsig.validate` (over the raw wire, chained across
the messages as dnspython does), and the answer RRs are read directly into plain values for the
types mail zones are made of:

| type | value |
|---|---|
| A, AAAA | the address, normalised (`str(ipaddress.ip_address(...))`) |
| MX | (preference, exchange) |
| TXT | the character-strings, as bytes |
| CNAME, NS | the target |

Names are in presentation form (dnspython's escapes) with the case they have on the wire; every
other type is a dnspython rdata (`dns.rdata.from_wire`), and the SOA frames the transfer. The
messages are kept, so a caller that needs dnspython's messages after all parses them again
(`messages`). A server that does not answer in time raises TimeoutError, one that cannot be
reached OSError; anything unexpected (an rcode other than NOERROR, a message without TSIG when a
key is used, a malformed message) raises `Unusual`: the caller then transfers with dnspython,
which reports the problem as it always did."""

from __future__ import annotations

import ipaddress
import socket
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig

from mailzone.dns.wire import Unusual, _name, _skip_name

_HEADER = struct.Struct(">HHHHHH")
_RR = struct.Struct(">HHIH")
_LENGTH = struct.Struct(">H")
LEAN = {1: "A", 2: "NS", 5: "CNAME", 15: "MX", 16: "TXT", 28: "AAAA"}
SOA, TSIG = 6, 250


@dataclass
class Transfer:
    """A whole AXFR: its RRs but the SOA (owner, type, TTL, value) and the raw messages."""

    rrs: list[tuple[str, str, int, Any]] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)
    query_mac: bytes | None = None


def transfer(
    host: str,
    port: int,
    zone: str,
    timeout: float,
    keyring: Mapping[dns.name.Name, Any] | None = None,
    keyalgorithm: Any = None,
) -> Transfer:
    """AXFR `zone` from `host`:`port` (TSIG with the keyring's only key when given)."""
    query = dns.message.make_query(zone, dns.rdatatype.AXFR, dns.rdataclass.IN)
    key = None
    if keyring is not None:
        query.use_tsig(keyring, algorithm=keyalgorithm)
        key = query.keyring
    wire = query.to_wire()
    out = Transfer(query_mac=query.mac if key is not None else None)
    origin = dns.name.from_text(zone)
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(_LENGTH.pack(len(wire)) + wire)
        reader = _Reader(sock, deadline)
        ctx = None
        soas = 0
        while soas < 2:
            message = reader.message()
            out.messages.append(message)
            soas, ctx = _read(message, query.id, origin, key, out, soas, ctx)
    return out


class _Reader:
    """Length-prefixed messages from a TCP stream, within a deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buffer = b""

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            chunk = self.sock.recv(max(65536, size - len(self.buffer)))
            if not chunk:
                raise Unusual("connection closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def message(self) -> bytes:
        (size,) = _LENGTH.unpack(self._take(2))
        return self._take(size)


def _read(
    data: bytes,
    ident: int,
    origin: dns.name.Name,
    key: Any,
    out: Transfer,
    soas: int,
    ctx: Any,
) -> tuple[int, Any]:
    """One message's answer RRs into `out`; (SOAs seen so far, the TSIG context)."""
    try:
        got, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
        if got != ident or not flags & 0x8000 or flags & 0x000F or nscount:
            raise Unusual("header")
        pos = 12
        for _ in range(qdcount):
            pos = _skip_name(data, pos) + 4
        for _ in range(ancount):
            if soas >= 2:
                raise Unusual("records after the closing SOA")
            owner = _name(data, pos)
            pos = _skip_name(data, pos)
            rtype, rclass, ttl, length = _RR.unpack_from(data, pos)
            pos += _RR.size
            end = pos + length
            if rclass != 1 or end > len(data):
                raise Unusual("class")
            if rtype == SOA:
                soas += 1
            elif not soas:
                raise Unusual("no opening SOA")
            else:
                kind, value = _value(data, pos, end, rtype)
                out.rrs.append((owner, kind, ttl, value))
            pos = end
        tsig_start = pos
        if key is None:
            if arcount:
                raise Unusual("additional records")
            return soas, ctx
        if arcount != 1:
            raise Unusual("no TSIG")
        owner_name, used = dns.name.from_wire(data, pos)
        pos += used
        rtype, _, _, length = _RR.unpack_from(data, pos)
        pos += _RR.size
        if rtype != TSIG:
            raise Unusual("no TSIG")
        rdata = dns.rdata.from_wire(dns.rdataclass.ANY, dns.rdatatype.TSIG, data, pos, length)
        ctx = dns.tsig.validate(  # type: ignore[no-untyped-call]
            data, key, owner_name, rdata, int(time.time()), out.query_mac, tsig_start, ctx, True
        )
        return soas, ctx
    except (struct.error, IndexError, ValueError, dns.exception.DNSException) as err:
        raise Unusual(str(err) or type(err).__name__) from None


def _value(data: bytes, pos: int, end: int, rtype: int) -> tuple[str, Any]:
    name = LEAN.get(rtype)
    if name == "A" or name == "AAAA":
        return name, str(ipaddress.ip_address(data[pos:end]))
    if name == "MX":
        return name, (int.from_bytes(data[pos : pos + 2], "big"), _name(data, pos + 2))
    if name == "CNAME" or name == "NS":
        return name, _name(data, pos)
    if name == "TXT":
        strings = []
        while pos < end:
            length = data[pos]
            strings.append(data[pos + 1 : pos + 1 + length])
            pos += length + 1
        if pos != end:
            raise Unusual("TXT")
        return name, tuple(strings)
    kind = dns.rdatatype.RdataType.make(rtype)
    return dns.rdatatype.to_text(kind), dns.rdata.from_wire(
        dns.rdataclass.IN, kind, data, pos, end - pos
    )


def messages(
    found: Transfer, keyring: Mapping[dns.name.Name, Any] | None
) -> list[dns.message.Message]:
    """The transfer's messages parsed by dnspython (TSIG checked again), as `dns.query.xfr`
    yields them."""
    out = []
    ctx = None
    for wire in found.messages:
        message = dns.message.from_wire(
            wire,
            keyring=keyring,
            request_mac=found.query_mac or b"",
            xfr=True,
            tsig_ctx=ctx,
            multi=True,
        )
        ctx = message.tsig_ctx
        out.append(message)
    return out
