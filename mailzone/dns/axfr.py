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
which reports the problem as it always did.

Given a `Connections`, transfers run one after the other on one TCP connection per thread
(RFC 5936 section 4.1 lets a client send several queries on one connection), which saves a
connection set-up and tear-down per zone. A connection the server has closed meanwhile (BIND
closes idle ones after 30 s) is opened again; a server that closes after each transfer, or
does not answer a second query, gets a new connection for every transfer from then on."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
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
    connections: Connections | None = None,
) -> Transfer:
    """AXFR `zone` from `host`:`port` (TSIG with the keyring's first key, as dnspython's
    `use_tsig` takes it, when given), on a kept connection when `connections` has one."""
    key = tsig_key(keyring, keyalgorithm) if keyring is not None else None
    if connections is None:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            return _transfer_on(sock, zone, timeout, key)[0]
    sent = connections.claim(host, port, zone)
    if sent is not None:
        query = sent
        out = _on(
            connections,
            host,
            port,
            sent.sock,
            sent.reused,
            lambda s: _receive(s, query.ident, query.mac, timeout, key),
        )
        if out is not None:
            return out
    kept = connections.take(host, port)
    if kept is not None:
        out = _on(
            connections, host, port, kept, True, lambda s: _transfer_on(s, zone, timeout, key)
        )
        if out is not None:
            return out
    sock = socket.create_connection((host, port), timeout=timeout)
    out = _on(connections, host, port, sock, False, lambda s: _transfer_on(s, zone, timeout, key))
    assert out is not None  # a new connection's failure is raised
    return out


def _on(
    connections: Connections,
    host: str,
    port: int,
    sock: socket.socket,
    reused: bool,
    read: Callable[[socket.socket], tuple[Transfer, bool]],
) -> Transfer | None:
    """`read(sock)`, the connection kept after. None when a `reused` connection went unanswered
    (closed meanwhile, or the server takes one query per connection: from then on it gets a new
    one for each); on a new connection that is the server's answer, raised."""
    try:
        out, clean = read(sock)
    except (_Unanswered, TimeoutError):
        sock.close()
        if not reused:
            raise
        connections.single(host, port)
        return None
    except BaseException:
        sock.close()
        raise
    connections.keep(host, port, sock, clean)
    return out


def _send(
    sock: socket.socket, zone: str, timeout: float, key: dns.tsig.Key | None
) -> tuple[int, bytes | None]:
    """Send the signed query; its id and MAC."""
    ident, wire, mac = _query(zone, key)
    try:
        sock.settimeout(timeout)
        sock.sendall(_LENGTH.pack(len(wire)) + wire)
    except (BrokenPipeError, ConnectionResetError):
        raise _Unanswered from None
    return ident, mac


def _transfer_on(
    sock: socket.socket, zone: str, timeout: float, key: dns.tsig.Key | None
) -> tuple[Transfer, bool]:
    """The transfer on an open connection; whether nothing was left unread after it."""
    ident, mac = _send(sock, zone, timeout, key)
    return _receive(sock, ident, mac, timeout, key)


def _receive(
    sock: socket.socket, ident: int, mac: bytes | None, timeout: float, key: dns.tsig.Key | None
) -> tuple[Transfer, bool]:
    """The answer to the query `ident` sent on `sock`."""
    out = Transfer(query_mac=mac)
    reader = Reader(sock, time.monotonic() + timeout)
    ctx = None
    soas = 0
    while soas < 2:
        message = reader.message()
        out.messages.append(message)
        soas, ctx = _read(message, ident, key, out, soas, ctx)
    return out, not reader.buffer


class _Unanswered(Unusual):
    """The connection closed before any of the answer came."""


@dataclass
class _Sent:
    """A query sent ahead (`send_ahead`) whose answer is not read yet."""

    sock: socket.socket
    ident: int
    mac: bytes | None
    reused: bool  # on a kept connection (one the server may have closed meanwhile)


KEPT = 16  # idle connections kept per thread and server


class Connections:
    """Open connections to servers, per thread and server, for `transfer` to reuse: one, or as
    many as there were queries sent ahead at once (at most `KEPT` idle)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._single: set[tuple[str, int]] = set()

    def _open(self) -> dict[tuple[str, int], list[_Kept]]:
        kept: dict[tuple[str, int], list[_Kept]] | None = getattr(self._local, "kept", None)
        if kept is None:
            kept = self._local.kept = {}
        return kept

    def _sent(self) -> dict[tuple[str, int, str], _Sent]:
        sent: dict[tuple[str, int, str], _Sent] | None = getattr(self._local, "sent", None)
        if sent is None:
            sent = self._local.sent = {}
        return sent

    def send_ahead(
        self, host: str, port: int, zone: str, timeout: float, keyring: Any = None, **auth: Any
    ) -> bool:
        """Send the AXFR query for `zone` now (TSIG as `transfer` signs it), on a connection of
        its own (a kept one, else a new one), for this thread's next `transfer` of the zone to
        read: several transfers then wait on the server at once, in one thread. False when it
        could not be sent (`transfer` then asks as usual)."""
        key = tsig_key(keyring, auth.get("keyalgorithm")) if keyring is not None else None
        sock = self.take(host, port)
        reused = sock is not None
        try:
            if sock is None:
                sock = socket.create_connection((host, port), timeout=timeout)
            ident, mac = _send(sock, zone, timeout, key)
        except (OSError, Unusual, dns.exception.DNSException):
            if sock is not None:
                sock.close()
            return False
        old = self._sent().pop((host, port, zone.lower()), None)
        if old is not None:
            old.sock.close()
        self._sent()[(host, port, zone.lower())] = _Sent(sock, ident, mac, reused)
        return True

    def claim(self, host: str, port: int, zone: str) -> _Sent | None:
        """The query this thread sent ahead for the zone, if any."""
        return self._sent().pop((host, port, zone.lower()), None)

    def pending(self, host: str, port: int) -> int:
        """How many queries this thread has sent ahead to the server and not read."""
        return sum(1 for h, p, _ in self._sent() if (h, p) == (host, port))

    def close_sent(self) -> None:
        """Close the connections of queries sent ahead and never read (their zones' plans
        stopped before the transfer)."""
        sent = self._sent()
        for query in sent.values():
            query.sock.close()
        sent.clear()

    def take(self, host: str, port: int) -> socket.socket | None:
        """An open connection of this thread to the server, unless the server has closed it."""
        idle = self._open().get((host, port))
        if not idle:
            return None
        sock = idle.pop().release()
        if (host, port) in self._single:
            sock.close()
            return None
        try:
            sock.setblocking(False)  # a socket with a timeout would wait for the peek
            if sock.recv(1, socket.MSG_PEEK) == b"":
                sock.close()  # closed by the server
                return None
        except BlockingIOError:
            return sock  # open, nothing unread: the usual case
        except OSError:
            pass
        sock.close()  # reset, or bytes nobody asked for
        return None

    def keep(self, host: str, port: int, sock: socket.socket, clean: bool) -> None:
        """Keep the connection for this thread's next transfer (closed if it cannot be)."""
        idle = self._open().setdefault((host, port), [])
        if clean and (host, port) not in self._single and len(idle) < KEPT:
            idle.append(_Kept(sock))
        else:
            sock.close()

    def single(self, host: str, port: int) -> None:
        """The server takes one transfer per connection: open a new one for each."""
        self._single.add((host, port))


class _Kept:
    """A kept socket, closed when the thread (or the provider) that kept it is gone."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock: socket.socket | None = sock

    def release(self) -> socket.socket:
        sock, self.sock = self.sock, None
        assert sock is not None
        return sock

    def __del__(self) -> None:
        if self.sock is not None:
            self.sock.close()


_HASHES = {
    dns.tsig.HMAC_SHA1: hashlib.sha1,
    dns.tsig.HMAC_SHA224: hashlib.sha224,
    dns.tsig.HMAC_SHA256: hashlib.sha256,
    dns.tsig.HMAC_SHA384: hashlib.sha384,
    dns.tsig.HMAC_SHA512: hashlib.sha512,
}
FUDGE = 300  # dnspython's default


def tsig_key(keyring: Mapping[dns.name.Name, Any], algorithm: Any = None) -> dns.tsig.Key:
    """The keyring's first key, as dnspython's `use_tsig` takes it."""
    name = next(iter(keyring))
    key = keyring[name]
    if isinstance(key, dns.tsig.Key):
        return key
    return dns.tsig.Key(name, key, algorithm or dns.tsig.default_algorithm)


def _query(zone: str, key: dns.tsig.Key | None) -> tuple[int, bytes, bytes | None]:
    """(id, wire, TSIG MAC) of the AXFR query, packed by hand."""
    ident = int.from_bytes(os.urandom(2), "big")
    qname = dns.name.from_text(zone).to_wire()
    assert qname is not None
    wire = _HEADER.pack(ident, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 252, 1)  # AXFR, IN
    if key is None:
        return ident, wire, None
    signed, mac = sign(wire, key)
    return ident, signed, mac


def sign(wire: bytes, key: dns.tsig.Key) -> tuple[bytes, bytes]:
    """`wire` (a whole message, no TSIG yet) signed with `key`, and the MAC: packed by hand
    (RFC 8945 section 4.3.3) for the usual HMAC-SHA algorithms, by dnspython for the others."""
    digest = _HASHES.get(key.algorithm)
    if digest is None:
        message = dns.message.from_wire(wire)
        message.use_tsig(key)
        signed = message.to_wire()
        assert message.mac is not None
        return signed, message.mac
    owner = key.name.canonicalize().to_wire()
    algorithm = key.algorithm.canonicalize().to_wire()
    assert owner is not None and algorithm is not None
    signed = int(time.time()).to_bytes(6, "big") + struct.pack(">H", FUDGE)
    variables = owner + struct.pack(">HI", 255, 0) + algorithm + signed + struct.pack(">HH", 0, 0)
    mac = hmac.new(key.secret, wire + variables, digest).digest()
    rdata = algorithm + signed + struct.pack(">H", len(mac)) + mac + wire[:2] + b"\0\0\0\0"
    tsig = owner + struct.pack(">HHIH", 250, 255, 0, len(rdata)) + rdata
    (arcount,) = _LENGTH.unpack_from(wire, 10)
    return wire[:10] + _LENGTH.pack(arcount + 1) + wire[12:] + tsig, mac


def verify(
    data: bytes, pos: int, key: dns.tsig.Key, request_mac: bytes | None, ctx: Any, multi: bool
) -> Any:
    """Check the TSIG RR at `pos` (the message's last) with dnspython's `dns.tsig.validate`;
    the context for the next message of a multi-message answer."""
    owner, used = dns.name.from_wire(data, pos)
    rtype, _, _, length = _RR.unpack_from(data, pos + used)
    if rtype != TSIG:
        raise Unusual("no TSIG")
    start = pos + used + _RR.size
    rdata = dns.rdata.from_wire(dns.rdataclass.ANY, dns.rdatatype.TSIG, data, start, length)
    return dns.tsig.validate(  # type: ignore[no-untyped-call]
        data, key, owner, rdata, int(time.time()), request_mac, pos, ctx, multi
    )


class Reader:
    """Length-prefixed messages from a TCP stream, within a deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buffer = b""
        self.started = False  # a byte of the answer has come

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(max(65536, size - len(self.buffer)))
            except ConnectionResetError:
                if self.started:
                    raise
                raise _Unanswered from None
            if not chunk:
                raise Unusual("connection closed") if self.started else _Unanswered()
            self.started = True
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def message(self) -> bytes:
        (size,) = _LENGTH.unpack(self._take(2))
        return self._take(size)


def _read(
    data: bytes,
    ident: int,
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
        return soas, verify(data, tsig_start, key, out.query_mac, ctx, True)
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
