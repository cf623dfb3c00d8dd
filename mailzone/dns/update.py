"""RFC 2136 UPDATE messages packed by hand and sent over one TCP connection.

`dns.update.UpdateMessage` builds names, rdata objects and rdatasets, and `to_wire` turns them
back into bytes: most of a first apply's time after BIND's own. Here the message is packed
straight from octoDNS's presentation texts for the types mail zones are made of (A, AAAA, MX,
CNAME, TXT with only `\\;` escapes, TLSA); every other value goes through dnspython's parser
(`dns.rdata.from_text`), so the records are the same. It is TSIG-signed as the AXFR query is
(`axfr.sign`), the updates of one zone share one connection, and the answer's TSIG is checked
with `dns.tsig.validate` (`axfr.verify`). `tests/unit/test_update.py` compares the messages
with dnspython's `UpdateMessage`."""

from __future__ import annotations

import os
import re
import socket
import struct
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Literal

import dns.exception
import dns.name
import dns.query
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig

from mailzone.dns import axfr
from mailzone.dns.wire import Unusual, _skip_name

Op = Literal["add", "replace", "delete"]
Change = tuple[Op, str, int, str, Sequence[str]]
"""(operation, owner, TTL, type, presentation texts): an octoDNS change's `record.rrs`."""

_HEADER = struct.Struct(">HHHHHH")
_RR = struct.Struct(">HHIH")
_UPDATE = 5 << 11  # the opcode in the header's flags
_SOA, _IN, _NONE, _ANY = 6, 1, 254, 255
_ZONE_POINTER = b"\xc0\x0c"  # the zone section's name, right after the header
_TLSA_LENGTHS = {1: 32, 2: 64}  # SHA-256, SHA-512 (RFC 6698 2.1.3)
_QUOTED = re.compile(r'"((?:[^"\\]|\\;)*)"\s*')


def pack(zone: str, changes: Sequence[Change], ident: int) -> bytes:
    """The UPDATE message of `changes` to `zone`, unsigned, RRs in dnspython's order: a
    replace deletes the RRset (class ANY) before adding, a delete names each value (class
    NONE)."""
    apex = zone.lower()
    rrs = []
    for op, owner, ttl, rtype, texts in changes:
        name = _owner(owner, apex)
        kind = dns.rdatatype.RdataType.make(rtype)
        if op == "replace":
            rrs.append(name + _RR.pack(kind, _ANY, 0, 0))
        rclass, rttl = (_NONE, 0) if op == "delete" else (_IN, ttl)
        for text in texts:
            rdata = rdata_wire(rtype, text)
            rrs.append(name + _RR.pack(kind, rclass, rttl, len(rdata)) + rdata)
    header = _HEADER.pack(ident, _UPDATE, 1, 0, len(rrs), 0)
    return header + name_wire(zone) + struct.pack(">HH", _SOA, _IN) + b"".join(rrs)


def _owner(owner: str, apex: str) -> bytes:
    """An owner name, compressed to the zone's name when it is inside the zone."""
    lowered = owner.lower()
    if lowered == apex:
        return _ZONE_POINTER
    if lowered.endswith("." + apex) and "\\" not in owner:
        return name_wire(owner[: -len(apex)])[:-1] + _ZONE_POINTER
    return name_wire(owner)


def name_wire(name: str) -> bytes:
    """An absolute name in wire form (labels as written); dnspython's for escapes and errors."""
    labels = name.split(".")
    if (
        "\\" in name
        or labels[-1] != ""
        or not name.isascii()
        or len(name) > 254
        or any(not 0 < len(label) < 64 for label in labels[:-1])
    ):
        wire = dns.name.from_text(name, None).to_wire()
        assert wire is not None
        return wire
    return b"".join(bytes((len(label),)) + label.encode() for label in labels)


def rdata_wire(rtype: str, text: str) -> bytes:
    """The rdata of one presentation text, uncompressed."""
    try:
        wire = _lean_rdata(rtype, text)
    except (ValueError, OSError, dns.exception.DNSException):
        wire = None
    if wire is None:
        wire = dns.rdata.from_text(dns.rdataclass.IN, rtype, text).to_wire()
        assert wire is not None
    return wire


def _lean_rdata(rtype: str, text: str) -> bytes | None:
    if rtype == "A":
        return socket.inet_pton(socket.AF_INET, text)
    if rtype == "AAAA":
        return socket.inet_pton(socket.AF_INET6, text)
    if rtype == "MX":
        preference, exchange = text.split()
        if not preference.isdigit():
            return None
        return struct.pack(">H", int(preference)) + name_wire(exchange)
    if rtype == "CNAME":
        return name_wire(text) if text.strip() == text else None
    if rtype == "TXT":
        strings = plain_strings(text)
        return None if strings is None else b"".join(bytes((len(s),)) + s for s in strings)
    if rtype == "TLSA":
        usage, selector, matching, data = text.split()
        fields = (usage, selector, matching)
        if not all(f.isdigit() for f in fields) or not data.isalnum():
            return None
        cert = bytes.fromhex(data)
        if len(cert) != _TLSA_LENGTHS.get(int(matching), len(cert)):
            return None  # dnspython refuses it
        return bytes(int(f) for f in fields) + cert
    return None


def plain_strings(text: str) -> list[bytes] | None:
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


class Connection:
    """One TCP connection to a primary, for the UPDATE messages of a zone, one at a time."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.reader = axfr.Reader(self.sock, 0.0)

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.sock.close()

    def update(self, zone: str, changes: Sequence[Change], key: dns.tsig.Key | None) -> int:
        """Send `changes` to `zone` (signed with `key`) and return the answer's rcode; its TSIG
        is checked (dnspython's exceptions). A server that does not answer in time raises
        TimeoutError."""
        ident = int.from_bytes(os.urandom(2), "big")
        wire = pack(zone, changes, ident)
        mac = None
        if key is not None:
            wire, mac = axfr.sign(wire, key)
        self.sock.sendall(struct.pack(">H", len(wire)) + wire)
        self.reader.deadline = time.monotonic() + self.timeout
        try:
            return answer_rcode(self.reader.message(), ident, key, mac)
        except Unusual as err:  # as dnspython says a connection closed early
            raise EOFError(str(err)) from None


def answer_rcode(data: bytes, ident: int, key: dns.tsig.Key | None, mac: bytes | None) -> int:
    """The rcode of the answer to UPDATE `ident`, its TSIG checked when `key` is given."""
    try:
        got, flags, zocount, prcount, upcount, adcount = _HEADER.unpack_from(data)
        if got != ident or not flags & 0x8000 or flags & 0x7800 != _UPDATE:
            raise dns.query.BadResponse
        pos = 12
        for _ in range(zocount):
            pos = _skip_name(data, pos) + 4
        for _ in range(prcount + upcount + adcount - (key is not None)):
            pos = _skip_name(data, pos)
            pos += _RR.size + _RR.unpack_from(data, pos)[3]
        if key is not None:
            if not adcount:
                raise dns.tsig.BadSignature("the answer is not signed")  # type: ignore[no-untyped-call]
            axfr.verify(data, pos, key, mac, None, False)
        return int(flags & 0x000F)
    except (struct.error, IndexError, Unusual) as err:
        raise dns.exception.FormError(  # type: ignore[no-untyped-call]
            str(err) or type(err).__name__
        ) from None
