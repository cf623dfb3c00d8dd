"""The DNS client against a fake transport: caching, TC→TCP fallback, timeouts, answer reading.

Nothing here opens a socket: ``dns.query.udp`` and ``dns.query.tcp`` are replaced by a fake
server that answers from a dict and counts what it was asked, and the hand-packed fast path
(tested in test_dnswire and against real servers) hands every question to them."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rrset
import pytest

from mailzone.dns import wire as dnswire
from mailzone.dns.query import EDNS_PAYLOAD, Dns
from mailzone.errors import MailzoneError

SERVER = ("127.0.0.1", 5300)
RESOLVER = ("127.0.0.1", 5353)
DKIM = "v=DKIM1; k=rsa; p=" + "A" * 392


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
    asked: list[tuple[str, str, str, int]] = field(default_factory=list)
    requests: list[dns.message.Message] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeServer:
        monkeypatch.setattr(dnswire, "ask", _hand_over)  # the dnspython path, faked below
        monkeypatch.setattr(dns.query, "udp", self.udp)
        monkeypatch.setattr(dns.query, "tcp", self.tcp)
        return self

    def udp(self, q: dns.message.Message, where: str, **kw: object) -> dns.message.Message:
        self.requests.append(q)
        self.asked.append(("udp", where, q.question[0].name.to_text(), int(str(kw["port"]))))
        if self.udp_timeouts > 0:
            self.udp_timeouts -= 1
            raise dns.exception.Timeout
        response = self._respond(q)
        if self.truncate_udp:
            response.answer = []
            response.flags |= dns.flags.TC
        return response

    def tcp(self, q: dns.message.Message, where: str, **kw: object) -> dns.message.Message:
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


def test_query_asks_each_question_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeServer({("a.example.org.", "TXT"): ['"hello"']}).install(monkeypatch)
    client = Dns(resolver=RESOLVER)

    first = client.query(SERVER, "a.example.org.", "TXT")
    second = client.query(SERVER, "A.Example.Org", "txt")  # same question, other spelling

    assert first == second
    assert first.rcode == "NOERROR" and first.records == ['"hello"'] and first.ttl == 300
    assert len(fake.asked) == 1


def test_query_caches_per_endpoint_and_type(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeServer({("a.example.org.", "TXT"): ['"x"']}).install(monkeypatch)
    client = Dns(resolver=RESOLVER)

    client.query(SERVER, "a.example.org.", "TXT")
    client.query(("127.0.0.1", 5301), "a.example.org.", "TXT")
    client.query(SERVER, "a.example.org.", "A")

    assert len(fake.asked) == 3


def test_concurrent_identical_questions_go_out_once(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeServer({("a.example.org.", "TXT"): ['"x"']}, delay=0.05).install(monkeypatch)
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


def test_query_uses_edns0_with_a_1232_byte_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeServer({("a.example.org.", "TXT"): ['"x"']}).install(monkeypatch)

    Dns(resolver=RESOLVER).query(SERVER, "a.example.org.", "TXT")

    assert fake.requests[0].edns == 0 and fake.requests[0].payload == EDNS_PAYLOAD


def test_truncated_udp_answer_is_asked_again_over_tcp(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeServer(
        {("sel._domainkey.example.org.", "TXT"): [f'"{DKIM[:255]}" "{DKIM[255:]}"']},
        truncate_udp=True,
    ).install(monkeypatch)

    values = Dns(resolver=RESOLVER).txt(SERVER, "sel._domainkey.example.org.")

    assert values == [DKIM]
    assert [a[0] for a in fake.asked] == ["udp", "tcp"]


def test_timeout_becomes_an_error_after_the_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeServer(udp_timeouts=10).install(monkeypatch)

    answer = Dns(resolver=RESOLVER, timeout=0.1, retries=2).query(SERVER, "a.example.org.", "TXT")

    assert answer.error == "timeout" and answer.rcode == "" and answer.records == []
    assert len(fake.asked) == 3


def test_a_retry_that_is_answered_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeServer({("a.example.org.", "TXT"): ['"x"']}, udp_timeouts=1).install(monkeypatch)

    answer = Dns(resolver=RESOLVER, retries=1).query(SERVER, "a.example.org.", "TXT")

    assert answer.error is None and answer.records == ['"x"']


def test_network_errors_become_errors_not_exceptions(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kw: object) -> dns.message.Message:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(dns.query, "udp", refuse)

    answer = Dns(resolver=RESOLVER, retries=0).query(SERVER, "a.example.org.", "TXT")

    assert answer.error == "connection refused"


def test_refused_is_an_error_with_its_rcode(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeServer(rcode=dns.rcode.REFUSED).install(monkeypatch)

    answer = Dns(resolver=RESOLVER).query(SERVER, "a.example.org.", "TXT")

    assert answer.rcode == "REFUSED" and answer.error == "REFUSED"


def test_nxdomain_and_nodata_are_negative_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeServer({("a.example.org.", "A"): ["192.0.2.1"]}).install(monkeypatch)
    client = Dns(resolver=RESOLVER)

    nodata = client.query(SERVER, "a.example.org.", "TXT")
    nxdomain = client.query(SERVER, "b.example.org.", "TXT")

    assert nodata.rcode == "NOERROR" and nodata.negative
    assert nxdomain.rcode == "NXDOMAIN" and nxdomain.negative


def test_configured_nameservers_are_parsed_and_names_resolved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeServer({("ns1.example.net.", "A"): ["192.0.2.53"]}).install(monkeypatch)

    servers = Dns(resolver=RESOLVER).nameservers(
        "example.org", ["127.0.0.1:5300", "[::1]:5301", "ns1.example.net"]
    )

    assert servers == [("127.0.0.1", 5300), ("::1", 5301), ("192.0.2.53", 53)]
    assert fake.asked == [("udp", "127.0.0.1", "ns1.example.net.", 5353)]


def test_nameservers_default_to_the_zone_ns_records(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeServer(
        {
            ("example.org.", "NS"): ["ns1.example.net."],
            ("ns1.example.net.", "A"): ["192.0.2.53"],
            ("ns1.example.net.", "AAAA"): ["2001:db8::53"],
        }
    ).install(monkeypatch)

    servers = Dns(resolver=RESOLVER).nameservers("example.org.", [])

    assert servers == [("192.0.2.53", 53), ("2001:db8::53", 53)]


def test_no_nameservers_is_an_error_not_an_empty_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeServer().install(monkeypatch)  # NXDOMAIN for everything

    with pytest.raises(MailzoneError, match="no NS records"):
        Dns(resolver=RESOLVER).nameservers("example.org.", [])


def test_a_bad_configured_nameserver_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeServer().install(monkeypatch)

    with pytest.raises(MailzoneError, match="port 0 is out of range"):
        Dns(resolver=RESOLVER).nameservers("example.org.", ["127.0.0.1:0"])
    with pytest.raises(MailzoneError, match="does not resolve"):
        Dns(resolver=RESOLVER).nameservers("example.org.", ["ns9.example.net"])


def test_served_everywhere_reports_each_server(monkeypatch: pytest.MonkeyPatch) -> None:
    by_port = {
        5301: {("s._domainkey.example.org.", "TXT"): ['"new"']},
        5302: {("s._domainkey.example.org.", "TXT"): ['"old"']},
        5303: {},
    }

    def udp(q: dns.message.Message, where: str, **kw: object) -> dns.message.Message:
        fake = FakeServer(by_port[int(str(kw["port"]))])
        return fake.udp(q, where, **kw)

    monkeypatch.setattr(dnswire, "ask", _hand_over)
    monkeypatch.setattr(dns.query, "udp", udp)
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


def test_two_txt_records_are_not_served(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeServer({("s.example.org.", "TXT"): ['"new"', '"old"']}).install(monkeypatch)

    seen = Dns(resolver=RESOLVER).served_everywhere(
        "example.org.", "s.example.org.", "new", ["127.0.0.1:5300"]
    )

    assert not seen.ok and seen.per_server["127.0.0.1:5300"].startswith("2 TXT records")


def test_negative_ttl_is_the_smaller_of_soa_ttl_and_minimum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    FakeServer(
        {("example.org.", "SOA"): ["ns1.example.net. hostmaster.example.org. 1 3600 600 86400 900"]}
    ).install(monkeypatch)  # the fake's RRset TTL is 300

    assert Dns(resolver=RESOLVER).negative_ttl("example.org.", ["127.0.0.1:5300"]) == 300
