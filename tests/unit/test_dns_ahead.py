"""Questions asked ahead (`wire.ask_many`, `Dns.prefetch`): many at once on one UDP socket,
each reply read exactly as `wire.ask` reads it, and anything not answered cleanly left for
`Dns.query` to ask with its retries and fallbacks. Against a small UDP server on 127.0.0.1
that can hold replies back, answer out of order, drop, truncate or refuse."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from mailzone.dns import wire
from mailzone.dns.query import Dns

RECORDS = {
    ("example.org.", "MX"): ["10 mail.example.org."],
    ("example.org.", "TXT"): ['"v=spf1 mx -all"'],
    ("mail.example.org.", "A"): ["192.0.2.25"],
    ("mail.example.org.", "AAAA"): ["2001:db8::25"],
    ("sel._domainkey.example.org.", "TXT"): [
        '"v=DKIM1; k=rsa; p=' + "A" * 200 + '" "' + "B" * 60 + '"'
    ],
    ("_dmarc.example.org.", "TXT"): ['"v=DMARC1; p=reject"'],
    ("25.2.0.192.in-addr.arpa.", "PTR"): ["mail.example.org."],
}
QUESTIONS = [
    *RECORDS,
    ("_smtp._tls.example.org.", "TXT"),  # NXDOMAIN
    ("mail.example.org.", "MX"),  # NODATA
]


@dataclass
class Server:
    """Answers from RECORDS; replies wait until `hold` queries are pending (then go out last
    first, each after a stray reply to a question nobody asked), or 50 ms pass."""

    hold: int = 1
    drop: set[str] = field(default_factory=set)
    truncate: set[str] = field(default_factory=set)
    servfail: set[str] = field(default_factory=set)
    seen: Counter[tuple[str, str]] = field(default_factory=Counter)
    most_pending: int = 0

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.endpoint = ("127.0.0.1", self.sock.getsockname()[1])
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        pending: list[tuple[bytes, tuple[str, int]]] = []
        while not self.stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                self._flush(pending)
                continue
            query = dns.message.from_wire(data)
            question = query.question[0]
            key = (question.name.to_text(), dns.rdatatype.to_text(question.rdtype))
            self.seen[key] += 1
            if key[0] in self.drop:
                continue
            pending.append((self._reply(query, key), peer))
            self.most_pending = max(self.most_pending, len(pending))
            if len(pending) >= self.hold:
                self._flush(pending)

    def _flush(self, pending: list[tuple[bytes, tuple[str, int]]]) -> None:
        for reply, peer in reversed(pending):
            stray = bytes([reply[0] ^ 0xFF, reply[1]]) + reply[2:]
            self.sock.sendto(stray, peer)
            self.sock.sendto(reply, peer)
        pending.clear()

    def _reply(self, query: dns.message.Message, key: tuple[str, str]) -> bytes:
        response = dns.message.make_response(query)
        name, rdtype = key
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif name in self.truncate:
            response.flags |= dns.flags.TC
        elif key in RECORDS:
            response.answer.append(dns.rrset.from_text_list(name, 300, "IN", rdtype, RECORDS[key]))
        elif not any(known == name for known, _ in RECORDS):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture
def server() -> Iterator[Server]:
    started = Server()
    yield started
    started.close()


def _asked_one_by_one() -> list[object]:
    plain = Server()
    try:
        return [wire.ask(plain.endpoint, name, rdtype, 1.0) for name, rdtype in QUESTIONS]
    finally:
        plain.close()


def test_ask_many_reads_each_reply_as_ask_does(server: Server) -> None:
    server.hold = 100  # replies wait until 50 ms pass, then go out last first, after a stray

    replies = wire.ask_many(server.endpoint, QUESTIONS, 1.0, window=4)

    assert [replies[i] for i in range(len(QUESTIONS))] == _asked_one_by_one()
    assert replies[QUESTIONS.index(("_smtp._tls.example.org.", "TXT"))][0] == "NXDOMAIN"
    assert server.most_pending == 4  # never more than the window unanswered
    assert set(server.seen.values()) == {1}


def test_ask_many_leaves_out_what_ask_must_ask_again(server: Server) -> None:
    server.drop = {"example.org."}
    server.truncate = {"sel._domainkey.example.org."}
    server.servfail = {"_dmarc.example.org."}
    began = time.monotonic()

    replies = wire.ask_many(server.endpoint, QUESTIONS, 0.3)

    left_out = {QUESTIONS[i] for i in range(len(QUESTIONS)) if i not in replies}
    assert left_out == {
        ("example.org.", "MX"),
        ("example.org.", "TXT"),
        ("sel._domainkey.example.org.", "TXT"),
    }
    assert replies[QUESTIONS.index(("_dmarc.example.org.", "TXT"))][0] == "SERVFAIL"
    assert time.monotonic() - began < 1.0  # one wait for the dropped ones, not one each


def test_prefetch_keeps_what_query_would_have_asked(server: Server) -> None:
    ahead = Dns(server.endpoint, timeout=1.0)
    assert ahead.prefetch((server.endpoint, n, t) for n, t in QUESTIONS) == 0  # not yet alive
    assert sum(server.seen.values()) == 0
    ahead.query(server.endpoint, "example.org.", "MX")  # answered: the server is alive
    server.drop = {"mail.example.org."}
    server.servfail = {"_dmarc.example.org."}

    answered = ahead.prefetch(
        [(server.endpoint, n.rstrip(".").upper(), t.lower()) for n, t in QUESTIONS]
        + [(server.endpoint, "example.org", "TLSA")]  # a type wire does not read: left
    )

    assert answered == len(QUESTIONS) - 1 - 3  # the MX was cached; A, AAAA and MX dropped
    server.drop = set()
    fresh = Dns(server.endpoint, timeout=1.0)
    for name, rdtype in QUESTIONS:
        kept = ahead.query(server.endpoint, name, rdtype)
        asked = fresh.query(server.endpoint, name, rdtype)
        assert (kept, kept.texts) == (asked, asked.texts), (name, rdtype)
    asked_twice = {key for key, n in server.seen.items() if n == 3}  # ahead, query, fresh
    assert asked_twice == {
        ("mail.example.org.", "A"),
        ("mail.example.org.", "AAAA"),
        ("mail.example.org.", "MX"),
    }
    assert ahead.query(server.endpoint, "_dmarc.example.org", "TXT").error == "SERVFAIL"
    assert server.seen[("example.org.", "TLSA")] == 0


def _local_address(endpoint: tuple[str, int]) -> tuple[str, int]:
    address: tuple[str, int] = wire._socket(endpoint).getsockname()
    return address


def test_a_forked_worker_asks_on_a_socket_of_its_own(server: Server) -> None:
    """Else the parent's socket is shared: a reply goes to whichever process reads first, and
    the other's question times out (`check --processes`)."""
    import multiprocessing

    parent = _local_address(server.endpoint)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child = pool.apply(_local_address, (server.endpoint,))

    assert child != parent
    assert _local_address(server.endpoint) == parent  # the parent keeps its own
