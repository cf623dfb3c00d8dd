"""The lean AXFR reader (`dns/axfr.py`) on messages dnspython signs: values read directly, a
reply whose TSIG does not verify is not taken, transfers share a connection with servers that
keep it open (a loopback server that keeps it, closes it, or ignores a second query), and a
query sent ahead is read by its zone's transfer."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import dns.message
import dns.name
import dns.rdatatype
import dns.rrset
import dns.tsigkeyring
import pytest

from mailzone.dns import axfr
from mailzone.dns.wire import Unusual

ZONE = "example.org."
KEYRING = dns.tsigkeyring.from_text({"k.": "c2VjcmV0IGtleSBmb3IgdGVzdHM="})


def signed_reply() -> tuple[dns.message.Message, bytes]:
    """The reader's own query (its TSIG checked by dnspython) and a signed reply to it."""
    key = axfr.tsig_key(KEYRING, None)
    _, wire, mac = axfr._query(ZONE, key)
    query = dns.message.from_wire(wire, keyring=KEYRING)
    assert query.mac == mac and query.question[0].rdtype == dns.rdatatype.AXFR
    reply = dns.message.make_response(query)
    soa = dns.rrset.from_text(ZONE, 300, "IN", "SOA", "ns. host. 1 2 3 4 5")
    reply.answer = [
        soa,
        dns.rrset.from_text(f"Mail.{ZONE}", 300, "IN", "A", "192.0.2.25"),
        dns.rrset.from_text(ZONE, 300, "IN", "MX", f"10 mail.{ZONE}"),
        dns.rrset.from_text(f"t.{ZONE}", 60, "IN", "TXT", '"a;b" "c"'),
        dns.rrset.from_text(ZONE, 300, "IN", "CAA", '0 issue "ca.example"'),
        soa,
    ]
    return query, reply.to_wire()


def read(query: dns.message.Message, wire: bytes) -> axfr.Transfer:
    out = axfr.Transfer(query_mac=query.mac)
    key = axfr.tsig_key(KEYRING, None)
    soas, _ = axfr._read(wire, query.id, key, out, 0, None)
    assert soas == 2
    return out


def test_a_signed_transfer_is_read_into_plain_values() -> None:
    query, wire = signed_reply()

    found = read(query, wire)

    mx = found.rrs[1]
    assert mx[:3] == (ZONE, "MX", 300) and mx[3][0] == 10
    assert mx[3][1].lower() == f"mail.{ZONE}"  # compression may take the case of Mail.
    assert [found.rrs[0], found.rrs[2]] == [
        (f"Mail.{ZONE}", "A", 300, "192.0.2.25"),
        (f"t.{ZONE}", "TXT", 60, (b"a;b", b"c")),
    ]
    assert found.rrs[3][1] == "CAA" and found.rrs[3][3].to_text() == '0 issue "ca.example"'


def test_a_reply_changed_after_signing_is_not_taken() -> None:
    query, wire = signed_reply()
    tampered = wire.replace(bytes([192, 0, 2, 25]), bytes([192, 0, 2, 26]))
    assert tampered != wire

    with pytest.raises(Unusual):
        read(query, tampered)


def test_an_unsigned_reply_to_a_signed_query_is_not_taken() -> None:
    query, _ = signed_reply()
    reply = dns.message.make_response(query)
    reply.keyring = None
    reply.tsig = None
    soa = dns.rrset.from_text(ZONE, 300, "IN", "SOA", "ns. host. 1 2 3 4 5")
    reply.answer = [soa, soa]

    with pytest.raises(Unusual):
        read(query, reply.to_wire())


class AxfrServer:
    """A loopback TCP server answering AXFR queries with a signed two-SOA reply; `mode`: "keep"
    answers every query on a connection, "close" closes after one, "ignore" answers the first
    query of a connection and ignores the others."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.accepted = 0
        self.queries = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            answered = 0
            while True:
                head = conn.recv(2, socket.MSG_WAITALL)
                if len(head) < 2:
                    return
                wire = conn.recv(struct.unpack(">H", head)[0], socket.MSG_WAITALL)
                if self.mode == "ignore" and answered:
                    continue
                self.queries += 1
                query = dns.message.from_wire(wire, keyring=KEYRING)
                zone = query.question[0].name
                reply = dns.message.make_response(query)
                soa = dns.rrset.from_text(zone, 300, "IN", "SOA", "ns. host. 1 2 3 4 5")
                reply.answer = [soa, dns.rrset.from_text(zone, 60, "IN", "A", "192.0.2.1"), soa]
                out = reply.to_wire()
                conn.sendall(struct.pack(">H", len(out)) + out)
                answered += 1
                if self.mode == "close":
                    return

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[AxfrServer]:
    running = AxfrServer(request.param)
    yield running
    running.close()


WAIT = 3.0  # the transfers' timeout: a wait for an unanswered query is this long


def transfers(server: AxfrServer, count: int, conns: axfr.Connections) -> list[float]:
    """Each transfer's seconds; every one must read the zone's A record."""
    took = []
    for _ in range(count):
        begin = time.monotonic()
        found = axfr.transfer("127.0.0.1", server.port, ZONE, WAIT, KEYRING, connections=conns)
        took.append(time.monotonic() - begin)
        assert found.rrs == [(ZONE, "A", 60, "192.0.2.1")]
    return took


@pytest.mark.parametrize("server", ["keep"], indirect=True)
def test_transfers_share_one_connection_a_server_keeps_open(server: AxfrServer) -> None:
    transfers(server, 5, axfr.Connections())

    assert server.accepted == 1


@pytest.mark.parametrize("server", ["close"], indirect=True)
def test_a_server_closing_after_each_transfer_gets_a_new_connection(server: AxfrServer) -> None:
    took = transfers(server, 5, axfr.Connections())

    assert server.accepted == 5
    assert max(took) < WAIT / 2  # no transfer waited for an answer on a closed connection


@pytest.mark.parametrize("server", ["ignore"], indirect=True)
def test_a_server_ignoring_a_second_query_costs_one_wait_then_none(server: AxfrServer) -> None:
    took = transfers(server, 4, axfr.Connections())

    assert took[1] >= WAIT  # the second query went unanswered: the timeout, then a new one
    assert max(took[2:]) < WAIT / 2 and server.accepted == 4


ZONES = [f"z{i}.example." for i in range(3)]


def _sent_ahead(server: AxfrServer, conns: axfr.Connections) -> None:
    for zone in ZONES:
        assert conns.send_ahead("127.0.0.1", server.port, zone, WAIT, KEYRING)
    assert conns.pending("127.0.0.1", server.port) == len(ZONES)


def _read_back(server: AxfrServer, conns: axfr.Connections) -> list[float]:
    took = []
    for zone in reversed(ZONES):  # in any order: each answer waits on its own connection
        begin = time.monotonic()
        found = axfr.transfer("127.0.0.1", server.port, zone, WAIT, KEYRING, connections=conns)
        took.append(time.monotonic() - begin)
        assert found.rrs == [(zone, "A", 60, "192.0.2.1")]
    assert conns.pending("127.0.0.1", server.port) == 0
    return took


@pytest.mark.parametrize("server", ["keep"], indirect=True)
def test_queries_sent_ahead_are_read_by_their_zones_transfers(server: AxfrServer) -> None:
    conns = axfr.Connections()
    _sent_ahead(server, conns)

    _read_back(server, conns)

    assert server.queries == len(ZONES)  # each answer read, none asked again
    transfers(server, 4, conns)  # then on the connections kept
    assert server.accepted == len(ZONES) and server.queries == len(ZONES) + 4


@pytest.mark.parametrize("server", ["close"], indirect=True)
def test_queries_sent_ahead_to_a_server_closing_after_each_are_read(server: AxfrServer) -> None:
    conns = axfr.Connections()
    _sent_ahead(server, conns)

    took = _read_back(server, conns)
    transfers(server, 2, conns)

    assert server.queries == server.accepted == len(ZONES) + 2 and max(took) < WAIT / 2


@pytest.mark.parametrize("server", ["ignore"], indirect=True)
def test_a_query_sent_ahead_and_never_answered_is_asked_again(server: AxfrServer) -> None:
    conns = axfr.Connections()
    transfers(server, 1, conns)  # a kept connection, which the next query is sent ahead on
    _sent_ahead(server, conns)

    took = _read_back(server, conns)

    assert sorted(took)[-1] >= WAIT > sorted(took)[-2]  # one wait, on the kept connection
    assert server.queries == 1 + len(ZONES)  # the ignored one was not counted; asked again


@pytest.mark.parametrize("server", ["keep"], indirect=True)
def test_queries_sent_ahead_and_never_read_are_closed(server: AxfrServer) -> None:
    conns = axfr.Connections()
    _sent_ahead(server, conns)

    conns.close_sent()

    assert conns.pending("127.0.0.1", server.port) == 0
    transfers(server, 1, conns)
    assert server.accepted == len(ZONES) + 1  # nothing kept from the closed ones
