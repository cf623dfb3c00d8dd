"""The common case of a DNS question, on the wire without dnspython's per-message cost.

A check run asks thousands of small questions; building and parsing each with dnspython costs
~0.2 ms of CPU and `dns.query.udp` a fresh socket and another ~0.3 ms. Here a question is a few
bytes packed by hand, sent on a connected UDP socket kept per thread and server, and the answer
section of the reply is read directly for the types mailzone asks (A, AAAA, TXT, MX, PTR,
CNAME, NS, SOA). Anything else (truncation, another type, a malformed reply) returns None and the
caller falls back to dnspython."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import struct
import threading
import time

from mailzone.util.txt import quote_txt

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
_HEADER = struct.Struct(">HHHHHH")
_RR = struct.Struct(">HHIH")
_OPT = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"  # EDNS0, payload 1232, no options
_local = threading.local()


class Unusual(Exception):
    """The reply needs dnspython (truncated, unexpected, or not understood here)."""


def question(name: str, rdtype: str, ident: int) -> bytes:
    """The query message: recursion desired, one question, EDNS0."""
    labels = name.rstrip(".").encode("idna" if not name.isascii() else "ascii").split(b".")
    qname = b"".join(bytes([len(label)]) + label for label in labels if label) + b"\x00"
    return (
        _HEADER.pack(ident, 0x0100, 1, 0, 0, 1)
        + qname
        + struct.pack(">HH", TYPES[rdtype], 1)
        + _OPT
    )


def ask(
    server: tuple[str, int], name: str, rdtype: str, timeout: float
) -> tuple[str, list[str], int | None, tuple[str, ...] | None]:
    """(rcode, records as text, ttl, TXT texts) from `server`; raises TimeoutError, OSError, or
    Unusual when dnspython should take over."""
    if rdtype not in TYPES:
        raise Unusual(rdtype)
    sock = _socket(server)
    ident = int.from_bytes(os.urandom(2), "big")
    wire = question(name, rdtype, ident)
    sock.send(wire)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        try:
            data = sock.recv(65535)
        except TimeoutError:
            raise
        except OSError:
            _drop(server)
            raise
        if len(data) >= 12 and data[:2] == wire[:2]:  # a late reply to an earlier question: skip
            return parse(data, wire, rdtype)


def ask_many(
    server: tuple[str, int],
    questions: list[tuple[str, str]],
    timeout: float,
    window: int = 32,
) -> dict[int, tuple[str, list[str], int | None, tuple[str, ...] | None]]:
    """Ask `questions` ((name, type), each type in TYPES) at once on the thread's socket to
    `server`, at most `window` unanswered at a time: the replies `ask` would return, by index
    into `questions`. One that cannot be packed, is not answered within `timeout` of the last
    reply, or needs dnspython (`Unusual`) is left out, for `ask` to ask again."""
    sock = _socket(server)
    pending: dict[int, tuple[int, bytes, str]] = {}
    out: dict[int, tuple[str, list[str], int | None, tuple[str, ...] | None]] = {}
    todo = iter(enumerate(questions))

    def fill() -> None:
        while len(pending) < window:
            item = next(todo, None)
            if item is None:
                return
            index, (name, rdtype) = item
            ident = int.from_bytes(os.urandom(2), "big")
            while ident in pending:
                ident = int.from_bytes(os.urandom(2), "big")
            try:
                wire = question(name, rdtype, ident)
            except (UnicodeError, ValueError):
                continue
            sock.send(wire)
            pending[ident] = (index, wire, rdtype)

    try:
        fill()
        deadline = time.monotonic() + timeout
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            data = sock.recv(65535)
            entry = pending.pop(int.from_bytes(data[:2], "big"), None) if len(data) >= 12 else None
            if entry is None:  # a late reply to an earlier question
                continue
            index, wire, rdtype = entry
            with contextlib.suppress(Unusual):  # left for `ask`
                out[index] = parse(data, wire, rdtype)
            deadline = time.monotonic() + timeout
            fill()
    except TimeoutError:
        pass
    except OSError:
        _drop(server)
    return out


def _socket(server: tuple[str, int]) -> socket.socket:
    sockets: dict[tuple[str, int], socket.socket] = getattr(_local, "sockets", None) or {}
    _local.sockets = sockets
    sock = sockets.get(server)
    if sock is None:
        family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.connect(server)
        sockets[server] = sock
    return sock


def _forget_sockets() -> None:
    # a forked worker (`check --processes`) opens sockets of its own: on the parent's, replies
    # would go to whichever process reads first
    _local.sockets = {}


os.register_at_fork(after_in_child=_forget_sockets)


def _drop(server: tuple[str, int]) -> None:
    sockets = getattr(_local, "sockets", {})
    sock = sockets.pop(server, None)
    if sock is not None:
        sock.close()


def parse(
    data: bytes, wire: bytes, rdtype: str
) -> tuple[str, list[str], int | None, tuple[str, ...] | None]:
    """Read the reply to `wire`: its rcode and the RRset of `rdtype` in the answer section."""
    try:
        _, flags, qdcount, ancount, _, _ = _HEADER.unpack_from(data)
        if flags & 0x0200 or not flags & 0x8000 or qdcount != 1:  # truncated, not a response
            raise Unusual("flags")
        end = wire.index(b"\x00", 12) + 5  # the question as sent
        if data[12:end].lower() != wire[12:end].lower():
            raise Unusual("another question")
        rcode = RCODES.get(flags & 0x000F)
        if rcode is None:
            raise Unusual("rcode")
        wanted = TYPES[rdtype]
        pos = end
        records: list[str] = []
        texts: list[str] = []
        ttl: int | None = None
        for _ in range(ancount):
            pos = _skip_name(data, pos)
            rtype, rclass, rttl, length = _RR.unpack_from(data, pos)
            pos += _RR.size
            rdata_end = pos + length
            if rtype == wanted and rclass == 1:
                ttl = rttl if ttl is None else min(ttl, rttl)
                text, joined = _rdata(data, pos, rdata_end, rtype)
                records.append(text)
                if joined is not None:
                    texts.append(joined)
            pos = rdata_end
        return rcode, records, ttl, tuple(texts) if wanted == 16 else None
    except (struct.error, IndexError, ValueError, UnicodeError) as err:
        raise Unusual(str(err)) from None


def _skip_name(data: bytes, pos: int) -> int:
    while True:
        length = data[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            return pos + 2
        pos += length + 1


def _name(data: bytes, pos: int) -> str:
    labels: list[str] = []
    jumps = 0
    while True:
        length = data[pos]
        if length == 0:
            break
        if length & 0xC0 == 0xC0:
            jumps += 1
            if jumps > 32:
                raise ValueError("compression loop")
            pos = ((length & 0x3F) << 8) | data[pos + 1]
            continue
        label = data[pos + 1 : pos + 1 + length]
        if label.translate(None, _PLAIN):  # a byte that needs escaping
            labels.append("".join(_label_char(b) for b in label))
        else:
            labels.append(label.decode("ascii"))
        pos += length + 1
    return ".".join(labels) + "."


_SPECIAL = '."\\()$;@'  # escaped with a backslash, as dnspython writes them
# the bytes a label shows as themselves (`_label_char`): printable ASCII but the special ones
_PLAIN = bytes(b for b in range(0x21, 0x7F) if chr(b) not in _SPECIAL)


def _label_char(byte: int) -> str:
    char = chr(byte)
    if char in _SPECIAL:
        return "\\" + char
    if 0x21 <= byte < 0x7F:
        return char
    return f"\\{byte:03d}"


def _rdata(data: bytes, pos: int, end: int, rtype: int) -> tuple[str, str | None]:
    """Presentation text (as dnspython writes it) and, for TXT, the strings joined."""
    if rtype == 1:
        return str(ipaddress.IPv4Address(data[pos:end])), None
    if rtype == 28:
        return str(ipaddress.IPv6Address(data[pos:end])), None
    if rtype in (2, 5, 12):
        return _name(data, pos), None
    if rtype == 15:
        return f"{int.from_bytes(data[pos : pos + 2], 'big')} {_name(data, pos + 2)}", None
    if rtype == 16:
        strings = []
        while pos < end:
            length = data[pos]
            strings.append(data[pos + 1 : pos + 1 + length])
            pos += length + 1
        text = " ".join(quote_txt(s) for s in strings)
        return text, b"".join(strings).decode("utf-8", errors="replace")
    if rtype == 6:
        mname = _name(data, pos)
        pos = _skip_name(data, pos)
        rname = _name(data, pos)
        pos = _skip_name(data, pos)
        numbers = struct.unpack_from(">IIIII", data, pos)
        return f"{mname} {rname} " + " ".join(str(n) for n in numbers), None
    raise ValueError(f"type {rtype}")
