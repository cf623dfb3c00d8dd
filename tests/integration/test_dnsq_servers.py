"""The DNS client against real BIND9 and PowerDNS on 127.0.0.1.

Every query names an explicit loopback endpoint (the server itself is also the `resolver`), so
nothing is sent off the machine."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from octodns.record import Record
from octodns.zone import Zone

from mailzone.dns.query import Dns
from mailzone.errors import MailzoneError
from tests.servers import (
    LOOPBACK,
    SOA_MINIMUM,
    BindServer,
    DnsServer,
    ServerFactory,
    make_provider,
    txt_values,
)

pytestmark = pytest.mark.integration

ZONE = "example.org."
NAME = "sel._domainkey.example.org."
DKIM = "v=DKIM1; k=rsa; p=" + "M" * 392  # 410 characters: two character-strings on the wire


def publish(server: DnsServer, records: list[tuple[str, dict[str, Any]]]) -> None:
    """Write records straight through the server's octoDNS provider."""
    provider = make_provider(server, "publisher")
    zone = Zone(ZONE, [])
    for name, data in records:
        zone.add_record(Record.new(zone, name, data))
    provider.apply(provider.plan(zone))


def dkim(value: str) -> tuple[str, dict[str, Any]]:
    escaped = value.replace(";", "\\;")
    return ("sel._domainkey", {"type": "TXT", "ttl": 300, "value": escaped})


def configured(server: DnsServer) -> list[str]:
    return [f"{server.host}:{server.port}"]


def client_for(server: DnsServer, **kw: Any) -> Dns:
    return Dns(resolver=(server.host, server.port), **kw)


def test_long_dkim_value_is_served_and_reassembled_exactly(dns_server: DnsServer) -> None:
    publish(dns_server, [dkim(DKIM)])
    client = client_for(dns_server)

    seen = client.served_everywhere(ZONE, NAME, DKIM, configured(dns_server))

    assert seen.ok, seen.per_server
    assert seen.per_server == {f"{LOOPBACK}:{dns_server.port}": "ok"}
    assert client.txt((dns_server.host, dns_server.port), NAME) == [DKIM]
    assert txt_values(dns_server, NAME) == [DKIM]  # the test helper agrees


def test_served_everywhere_is_false_while_one_server_lacks_the_value(
    bind_factory: ServerFactory[BindServer],
) -> None:
    first, second = bind_factory(zones=[ZONE]), bind_factory(zones=[ZONE])
    publish(first, [dkim(DKIM)])
    servers = configured(first) + configured(second)

    seen = client_for(first).served_everywhere(ZONE, NAME, DKIM, servers)

    assert not seen.ok
    assert seen.per_server == {
        f"{LOOPBACK}:{first.port}": "ok",
        f"{LOOPBACK}:{second.port}": "missing",
    }


def test_served_everywhere_names_an_old_value(bind_factory: ServerFactory[BindServer]) -> None:
    first, second = bind_factory(zones=[ZONE]), bind_factory(zones=[ZONE])
    publish(first, [dkim(DKIM)])
    publish(second, [dkim("v=DKIM1; k=rsa; p=OLD")])

    seen = client_for(first).served_everywhere(
        ZONE, NAME, DKIM, configured(first) + configured(second)
    )

    assert not seen.ok
    assert seen.per_server[f"{LOOPBACK}:{second.port}"] == "old value: v=DKIM1; k=rsa; p=OLD"


def test_gone_everywhere_after_the_record_is_removed(dns_server: DnsServer) -> None:
    publish(dns_server, [dkim(DKIM)])
    servers = configured(dns_server)

    before = client_for(dns_server).gone_everywhere(ZONE, NAME, servers)
    publish(dns_server, [])  # the publisher owns nothing else here: the zone becomes empty
    after = client_for(dns_server).gone_everywhere(ZONE, NAME, servers)  # a new run

    assert not before.ok
    assert before.per_server[f"{LOOPBACK}:{dns_server.port}"].startswith("still served: v=DKIM1")
    assert after.ok, after.per_server


def test_gone_everywhere_accepts_nodata(dns_server: DnsServer) -> None:
    # (not at the _domainkey name: BIND's check-names refuses an A record there)
    publish(dns_server, [("mail", {"type": "A", "ttl": 300, "value": "192.0.2.1"})])

    seen = client_for(dns_server).gone_everywhere(ZONE, "mail.example.org.", configured(dns_server))

    assert seen.ok, seen.per_server


def test_negative_ttl_comes_from_the_soa(dns_server: DnsServer) -> None:
    ttl = client_for(dns_server).negative_ttl(ZONE, configured(dns_server))

    assert ttl == SOA_MINIMUM


def test_a_server_that_never_answers_is_a_timeout_after_each_try(
    bind_server: BindServer,
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent_socket:
        silent_socket.bind((LOOPBACK, 0))
        silent = f"{LOOPBACK}:{silent_socket.getsockname()[1]}"
        client = client_for(bind_server, timeout=0.3, retries=1)

        started = time.monotonic()
        seen = client.served_everywhere(ZONE, NAME, DKIM, [*configured(bind_server), silent])
        elapsed = time.monotonic() - started

        silent_socket.setblocking(False)
        tries = 0
        while True:
            try:
                silent_socket.recvfrom(65536)
            except BlockingIOError:
                break
            tries += 1

    assert not seen.ok
    assert seen.per_server[silent] == "timeout"
    assert tries == 2  # the question and one retry
    # each try waited its 0.3 s (a floor no load undercuts), not the default 2 s
    assert 2 * 0.3 <= elapsed < 2 * 2.0


def test_a_zone_the_server_does_not_serve_is_refused(bind_server: BindServer) -> None:
    seen = client_for(bind_server).served_everywhere(
        "example.net.", "sel._domainkey.example.net.", DKIM, configured(bind_server)
    )

    assert not seen.ok
    assert seen.per_server == {f"{LOOPBACK}:{bind_server.port}": "REFUSED"}


def test_configured_nameservers_are_host_port_endpoints(bind_server: BindServer) -> None:
    servers = client_for(bind_server).nameservers(ZONE, [f"127.0.0.1:{bind_server.port}"])

    assert servers == [(LOOPBACK, bind_server.port)]


def test_unresolvable_zone_nameservers_are_an_error_not_a_pass(
    bind_server: BindServer,
) -> None:
    # The zone's NS is ns1.test.invalid.; the server itself, as resolver, cannot resolve it.
    client = client_for(bind_server)

    with pytest.raises(MailzoneError, match=r"ns1\.test\.invalid"):
        client.nameservers(ZONE, [])
    with pytest.raises(MailzoneError):
        client.served_everywhere(ZONE, NAME, DKIM, [])
