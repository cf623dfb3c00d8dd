"""The DNS client against a fake transport: caching, TC→TCP fallback, timeouts, answer reading.

Every test runs on both paths a question can take (the ``path`` fixture):

- ``wire``: the hand-packed UDP fast path (``mailzone.dns.wire``), which the client takes for
  the common types. Its socket is a ``FakeSocket`` that answers each datagram with a reply packed
  by dnspython; dnspython's own transport refuses to be used (unless the reply was truncated,
  the one case where the fast path must hand over), so a test fails if the fast path silently
  fell back.
- ``dnspython``: the fallback. ``wire.ask`` hands every question over, and ``dns.query.udp`` and
  ``dns.query.tcp`` are replaced by the fake server.

Either way the fake server answers from a dict and counts what it was asked and how (``wire``,
``udp``, ``tcp``). Nothing here sends a packet, except the one test of the fast path's kept
socket, which talks to a UDP server of its own on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from mailzone.dns import wire as dnswire
from mailzone.dns.query import EDNS_PAYLOAD, Dns
from mailzone.errors import MailzoneError

SERVER = ("127.0.0.1", 5300)
RESOLVER = ("127.0.0.1", 5353)
DKIM = "v=DKIM1; k=rsa; p=" + "A" * 392
UDP_BY = {"wire": "wire", "dnspython": "udp"}  # how a question first goes out on each path
Endpoint = tuple[str, int]


def _hand_over(*args: object) -> None:
    raise dnswire.Unusual("tests fake dnspython's transport")


@dataclass
class FakeServer:
    """Answers from ``records`` ((name, type) → rdata texts); other names are NXDOMAIN."""

    records: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    truncate_udp: bool = False
    udp_timeouts: int = 0  # how many UDP attempts time out before one is answered
    rcode: dns.rcode.Rcode = dns.rcode.NOERROR
    delay: float = 0.0
    closed: bool = False  # nothing listens: UDP gets "connection refused" (ICMP port unreachable)
    path: str = "dnspython"  # which path the client must take to reach it
    asked: list[tuple[str, str, str, int]] = field(default_factory=list)  # (how, host, name, port)
    requests: list[dns.message.Message] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch, path: str) -> FakeServer:
        """Make this the server at every endpoint, reached by ``path``."""
        self.path = path
        install(monkeypatch, path, lambda port: self)
        return self

    def datagram(self, q: dns.message.Message, how: str, endpoint: Endpoint) -> bytes | None:
        """The UDP reply to ``q`` on the wire, or None when this attempt times out."""
        self.requests.append(q)
        self.asked.append((how, endpoint[0], q.question[0].name.to_text(), endpoint[1]))
        if self.udp_timeouts > 0:
            self.udp_timeouts -= 1
            return None
        response = self._respond(q)
        if self.truncate_udp:
            response.answer = []
            response.flags |= dns.flags.TC
        return response.to_wire()

    def udp(self, q: dns.message.Message, where: str, **kw: object) -> dns.message.Message:
        """``dns.query.udp``."""
        if self.path == "wire" and not self.truncate_udp:
            raise AssertionError("the fast path fell back to dnspython")
        if self.closed:
            raise ConnectionRefusedError(111, "Connection refused")
        reply = self.datagram(q, "udp", (where, int(str(kw["port"]))))
        if reply is None:
            raise dns.exception.Timeout
        return dns.message.from_wire(reply)

    def tcp(self, q: dns.message.Message, where: str, **kw: object) -> dns.message.Message:
        """``dns.query.tcp``."""
        self.asked.append(("tcp", where, q.question[0].name.to_text(), int(str(kw["port"]))))
        return self._respond(q)

    def _respond(self, q: dns.message.Message) -> dns.message.Message:
        time.sleep(self.delay)
        response = dns.message.make_response(q)
        question = q.question[0]
        name = question.name.to_text()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        response.set_rcode(self.rcode)
        if self.rcode != dns.rcode.NOERROR:
            return response
        if (name, rdtype) in self.records:
            response.answer.append(
                dns.rrset.from_text_list(name, 300, "IN", rdtype, self.records[(name, rdtype)])
            )
        elif not any(key[0] == name for key in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response


@dataclass
class FakeSocket:
    """What ``wire.ask`` uses of a connected UDP socket: each datagram sent is answered (or not)
    by ``server``, and the replies wait to be received."""

    server: FakeServer
    endpoint: Endpoint
    inbox: list[bytes] = field(default_factory=list)

    def send(self, data: bytes) -> int:
        reply = self.server.datagram(dns.message.from_wire(data), "wire", self.endpoint)
        if reply is not None:
            self.inbox.append(reply)
        return len(data)

    def settimeout(self, timeout: float | None) -> None:
        pass

    def recv(self, size: int) -> bytes:
        if self.server.closed:
            raise ConnectionRefusedError(111, "Connection refused")
        if not self.inbox:
            raise TimeoutError
        return self.inbox.pop(0)


def install(
    monkeypatch: pytest.MonkeyPatch, path: str, server_at: Callable[[int], FakeServer]
) -> None:
    """Reach the fake ``server_at(port)`` by ``path``: ``wire`` (the fast path's socket is a
    FakeSocket) or ``dnspython`` (the fast path hands over at once)."""
    sockets: dict[Endpoint, FakeSocket] = {}

    def fake_socket(endpoint: Endpoint) -> FakeSocket:  # kept per server, as wire keeps them
        return sockets.setdefault(endpoint, FakeSocket(server_at(endpoint[1]), endpoint))

    def udp(q: dns.message.Message, where: str, **kw: object) -> dns.message.Message:
        return server_at(int(str(kw["port"]))).udp(q, where, **kw)

    def tcp(q: dns.message.Message, where: str, **kw: object) -> dns.message.Message:
        return server_at(int(str(kw["port"]))).tcp(q, where, **kw)

    if path == "wire":
        monkeypatch.setattr(dnswire, "_socket", fake_socket)
    else:
        monkeypatch.setattr(dnswire, "ask", _hand_over)
    monkeypatch.setattr(dns.query, "udp", udp)
    monkeypatch.setattr(dns.query, "tcp", tcp)


@pytest.fixture(params=["wire", "dnspython"])
def path(request: pytest.FixtureRequest) -> str:
    """The path questions take: the hand-packed fast path, or the dnspython fallback."""
    value: str = request.param
    return value


def test_query_asks_each_question_once_per_run(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    fake = FakeServer({("a.example.org.", "TXT"): ['"hello"']}).install(monkeypatch, path)
    client = Dns(resolver=RESOLVER)

    first = client.query(SERVER, "a.example.org.", "TXT")
    second = client.query(SERVER, "A.Example.Org", "txt")  # same question, other spelling

    assert first == second
    assert first.rcode == "NOERROR" and first.records == ['"hello"'] and first.ttl == 300
    assert len(fake.asked) == 1


def test_query_caches_per_endpoint_and_type(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    fake = FakeServer({("a.example.org.", "TXT"): ['"x"']}).install(monkeypatch, path)
    client = Dns(resolver=RESOLVER)

    client.query(SERVER, "a.example.org.", "TXT")
    client.query(("127.0.0.1", 5301), "a.example.org.", "TXT")
    client.query(SERVER, "a.example.org.", "A")

    assert len(fake.asked) == 3


def test_concurrent_identical_questions_go_out_once(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    fake = FakeServer({("a.example.org.", "TXT"): ['"x"']}, delay=0.05).install(monkeypatch, path)
    client = Dns(resolver=RESOLVER)

    threads = [
        threading.Thread(target=client.query, args=(SERVER, "a.example.org.", "TXT"))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(fake.asked) == 1


def test_query_uses_edns0_with_a_1232_byte_payload(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    fake = FakeServer({("a.example.org.", "TXT"): ['"x"']}).install(monkeypatch, path)

    Dns(resolver=RESOLVER).query(SERVER, "a.example.org.", "TXT")

    assert fake.requests[0].edns == 0 and fake.requests[0].payload == EDNS_PAYLOAD


def test_truncated_udp_answer_is_asked_again_over_tcp(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    fake = FakeServer(
        {("sel._domainkey.example.org.", "TXT"): [f'"{DKIM[:255]}" "{DKIM[255:]}"']},
        truncate_udp=True,
    ).install(monkeypatch, path)

    values = Dns(resolver=RESOLVER).txt(SERVER, "sel._domainkey.example.org.")

    assert values == [DKIM]
    # the fast path hands a truncated reply over to dnspython, which asks it again
    expected = ["wire", "udp", "tcp"] if path == "wire" else ["udp", "tcp"]
    assert [a[0] for a in fake.asked] == expected


def test_timeout_becomes_an_error_after_the_retries(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    fake = FakeServer(udp_timeouts=10).install(monkeypatch, path)

    answer = Dns(resolver=RESOLVER, timeout=0.1, retries=2).query(SERVER, "a.example.org.", "TXT")

    assert answer.error == "timeout" and answer.rcode == "" and answer.records == []
    assert len(fake.asked) == 3


def test_a_retry_that_is_answered_wins(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    FakeServer({("a.example.org.", "TXT"): ['"x"']}, udp_timeouts=1).install(monkeypatch, path)

    answer = Dns(resolver=RESOLVER, retries=1).query(SERVER, "a.example.org.", "TXT")

    assert answer.error is None and answer.records == ['"x"']


def test_network_errors_become_errors_not_exceptions(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    FakeServer(closed=True).install(monkeypatch, path)

    answer = Dns(resolver=RESOLVER, retries=0).query(SERVER, "a.example.org.", "TXT")

    assert answer.error == "connection refused"


def test_refused_is_an_error_with_its_rcode(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    FakeServer(rcode=dns.rcode.REFUSED).install(monkeypatch, path)

    answer = Dns(resolver=RESOLVER).query(SERVER, "a.example.org.", "TXT")

    assert answer.rcode == "REFUSED" and answer.error == "REFUSED"


def test_nxdomain_and_nodata_are_negative_answers(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    FakeServer({("a.example.org.", "A"): ["192.0.2.1"]}).install(monkeypatch, path)
    client = Dns(resolver=RESOLVER)

    nodata = client.query(SERVER, "a.example.org.", "TXT")
    nxdomain = client.query(SERVER, "b.example.org.", "TXT")

    assert nodata.rcode == "NOERROR" and nodata.negative
    assert nxdomain.rcode == "NXDOMAIN" and nxdomain.negative


def test_configured_nameservers_are_parsed_and_names_resolved(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    fake = FakeServer({("ns1.example.net.", "A"): ["192.0.2.53"]}).install(monkeypatch, path)

    servers = Dns(resolver=RESOLVER).nameservers(
        "example.org", ["127.0.0.1:5300", "[::1]:5301", "ns1.example.net"]
    )

    assert servers == [("127.0.0.1", 5300), ("::1", 5301), ("192.0.2.53", 53)]
    assert fake.asked == [(UDP_BY[path], "127.0.0.1", "ns1.example.net.", 5353)]


def test_nameservers_default_to_the_zone_ns_records(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    FakeServer(
        {
            ("example.org.", "NS"): ["ns1.example.net."],
            ("ns1.example.net.", "A"): ["192.0.2.53"],
            ("ns1.example.net.", "AAAA"): ["2001:db8::53"],
        }
    ).install(monkeypatch, path)

    servers = Dns(resolver=RESOLVER).nameservers("example.org.", [])

    assert servers == [("192.0.2.53", 53), ("2001:db8::53", 53)]


def test_no_nameservers_is_an_error_not_an_empty_pass(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    FakeServer().install(monkeypatch, path)  # NXDOMAIN for everything

    with pytest.raises(MailzoneError, match="no NS records"):
        Dns(resolver=RESOLVER).nameservers("example.org.", [])


def test_a_bad_configured_nameserver_is_an_error(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    FakeServer().install(monkeypatch, path)

    with pytest.raises(MailzoneError, match="port 0 is out of range"):
        Dns(resolver=RESOLVER).nameservers("example.org.", ["127.0.0.1:0"])
    with pytest.raises(MailzoneError, match="does not resolve"):
        Dns(resolver=RESOLVER).nameservers("example.org.", ["ns9.example.net"])


def test_served_everywhere_reports_each_server(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    by_port = {
        5301: FakeServer({("s._domainkey.example.org.", "TXT"): ['"new"']}, path=path),
        5302: FakeServer({("s._domainkey.example.org.", "TXT"): ['"old"']}, path=path),
        5303: FakeServer(path=path),
    }
    install(monkeypatch, path, by_port.__getitem__)
    client = Dns(resolver=RESOLVER)
    configured = [f"127.0.0.1:{p}" for p in (5301, 5302, 5303)]

    seen = client.served_everywhere("example.org.", "s._domainkey.example.org.", "new", configured)
    only_good = client.served_everywhere(
        "example.org.", "s._domainkey.example.org.", "new", ["127.0.0.1:5301"]
    )

    assert not seen.ok
    assert seen.per_server == {
        "127.0.0.1:5301": "ok",
        "127.0.0.1:5302": "old value: old",
        "127.0.0.1:5303": "missing",
    }
    assert only_good.ok and only_good.per_server == {"127.0.0.1:5301": "ok"}


def test_two_txt_records_are_not_served(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    FakeServer({("s.example.org.", "TXT"): ['"new"', '"old"']}).install(monkeypatch, path)

    seen = Dns(resolver=RESOLVER).served_everywhere(
        "example.org.", "s.example.org.", "new", ["127.0.0.1:5300"]
    )

    assert not seen.ok and seen.per_server["127.0.0.1:5300"].startswith("2 TXT records")


def test_negative_ttl_is_the_smaller_of_soa_ttl_and_minimum(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    FakeServer(
        {("example.org.", "SOA"): ["ns1.example.net. hostmaster.example.org. 1 3600 600 86400 900"]}
    ).install(monkeypatch, path)  # the fake's RRset TTL is 300

    assert Dns(resolver=RESOLVER).negative_ttl("example.org.", ["127.0.0.1:5300"]) == 300


def test_the_fast_path_asks_over_one_kept_udp_socket_per_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeServer(
        {("a.example.org.", "TXT"): ['"x"'], ("a.example.org.", "A"): ["192.0.2.1"]}, path="wire"
    )
    monkeypatch.setattr(dns.query, "udp", fake.udp)  # fails the test if the fast path hands over
    sources: list[Endpoint] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(5)
        endpoint: Endpoint = server.getsockname()

        def serve() -> None:  # a real UDP server: replies packed by dnspython
            for _ in range(2):
                data, source = server.recvfrom(65535)
                sources.append(source)
                reply = fake.datagram(dns.message.from_wire(data), "wire", endpoint)
                server.sendto(reply or b"", source)

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            client = Dns(resolver=RESOLVER, timeout=2, retries=0)
            txt = client.query(endpoint, "a.example.org.", "TXT")
            address = client.query(endpoint, "a.example.org.", "A")
        finally:
            thread.join()
            dnswire._drop(endpoint)  # the socket the fast path keeps for this thread

    assert txt.records == ['"x"'] and txt.texts == ("x",)
    assert address.records == ["192.0.2.1"]
    assert [a[0] for a in fake.asked] == ["wire", "wire"]
    assert len(sources) == 2 and sources[0] == sources[1]  # one kept socket, not one per question


def test_a_server_that_never_answered_and_times_out_is_asked_once_per_run(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    fake = FakeServer(udp_timeouts=1000).install(monkeypatch, path)
    client = Dns(resolver=RESOLVER, timeout=0.05, retries=1)
    names = [f"n{i}.example.org." for i in range(20)]

    with ThreadPoolExecutor(max_workers=8) as pool:  # questions at once, as a check run asks
        answers = list(pool.map(lambda name: client.query(SERVER, name, "TXT"), names))

    assert all(a.error == "timeout" and a.rcode == "" for a in answers)
    assert len(fake.asked) == 2  # one question, 1 + retries attempts; the rest not waited on
    assert client.unreachable() == {SERVER: "timeout"}


def test_a_server_that_answered_once_is_asked_again_after_a_timeout(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    fake = FakeServer({("a.example.org.", "TXT"): ['"x"']}).install(monkeypatch, path)
    client = Dns(resolver=RESOLVER, timeout=0.05, retries=1)
    assert client.query(SERVER, "a.example.org.", "TXT").records == ['"x"']
    fake.udp_timeouts = 2  # one slow question (say, a resolver whose upstream is down)

    slow = client.query(SERVER, "b.example.org.", "TXT")
    later = client.query(SERVER, "c.example.org.", "TXT")

    assert slow.error == "timeout" and later.error is None and later.rcode == "NXDOMAIN"
    assert client.unreachable() == {}


def test_a_forked_worker_inherits_what_is_known_to_be_down(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    fake = FakeServer(udp_timeouts=1000).install(monkeypatch, path)
    client = Dns(resolver=RESOLVER, timeout=0.05, retries=1)
    client.query(SERVER, "a.example.org.", "TXT")

    worker = client.fresh(keep_answers=True)

    assert worker.query(SERVER, "b.example.org.", "TXT").error == "timeout"
    assert len(fake.asked) == 2


def test_no_system_resolver_is_an_unanswered_question_not_an_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dns.resolver

    def unconfigured(configure: bool = True) -> None:
        raise dns.resolver.NoResolverConfiguration("no nameservers")

    monkeypatch.setattr(dns.resolver, "Resolver", unconfigured)

    answer = Dns().resolve("example.org.", "TXT")

    assert answer.rcode == "" and answer.error is not None
    assert answer.error.startswith("no system resolver")


@dataclass
class SigningServer(FakeServer):
    """A FakeServer whose answers carry an RRSIG when the question has the DO bit."""

    def _respond(self, q: dns.message.Message) -> dns.message.Message:
        response = super()._respond(q)
        if q.ednsflags & dns.flags.DO:
            for rrset in list(response.answer):
                rdtype = dns.rdatatype.to_text(rrset.rdtype)
                signature = (
                    f"{rdtype} 13 4 300 20270101000000 20261201000000 1 example.org. " + "AAAA" * 16
                )
                response.answer.append(
                    dns.rrset.from_text(rrset.name, 300, "IN", "RRSIG", signature)
                )
        return response


def test_a_dnssec_question_has_the_do_bit_says_signed_and_is_cached_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tlsa = "_25._tcp.mail.example.org."
    fake = SigningServer({(tlsa, "TLSA"): ["3 1 1 " + "ab" * 32]}).install(monkeypatch, "dnspython")
    client = Dns(resolver=RESOLVER)

    plain = client.query(SERVER, tlsa, "TLSA")
    signed = client.query(SERVER, tlsa, "TLSA", dnssec=True)
    again = client.query(SERVER, tlsa, "TLSA", dnssec=True)

    assert plain.records == signed.records == ["3 1 1 " + "ab" * 32]
    assert not plain.signed and signed.signed and again == signed
    assert [bool(r.ednsflags & dns.flags.DO) for r in fake.requests] == [False, True]
