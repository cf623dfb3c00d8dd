"""The server fixtures work: zones answer, and octoDNS round-trips a long DKIM-style TXT."""

from __future__ import annotations

import pytest
from octodns.record import Record
from octodns.zone import Zone

from tests.servers import DnsServer, make_provider, query, txt_values

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.", "example.net.")]

SOA_PREFIX = "ns1.test.invalid. hostmaster."


def dkim_like_value(length: int) -> str:
    """A TXT value (as it goes on the wire) of ``length`` chars with ';' separators."""
    head = "v=DKIM1; k=rsa; p="
    return (head + "MIIBIjANBgkqhkiG9w0BAQEFAAOC" + "A" * length)[:length]


def desired_zone(name: str, wire_value: str) -> Zone:
    """A zone holding one TXT record, escaped the way octoDNS carries ';' internally."""
    zone = Zone(name, [])
    record = Record.new(
        zone,
        "sel._domainkey",
        {"type": "TXT", "ttl": 300, "value": wire_value.replace(";", "\\;")},
    )
    zone.add_record(record)
    return zone


def test_every_zone_answers_soa_and_ns(dns_server: DnsServer) -> None:
    for zone in ("example.org.", "example.net."):
        (soa,) = query(dns_server, zone, "SOA")
        assert soa.startswith(SOA_PREFIX)
        assert query(dns_server, zone, "NS") == ["ns1.test.invalid."]


def test_query_refuses_a_zone_not_served(dns_server: DnsServer) -> None:
    with pytest.raises(LookupError, match="REFUSED"):
        query(dns_server, "example.com.", "SOA")


def test_added_zone_answers(dns_server: DnsServer) -> None:
    dns_server.add_zone("example.com")

    assert query(dns_server, "example.com.", "NS") == ["ns1.test.invalid."]


def test_octodns_long_txt_with_semicolons_reassembles_exactly(dns_server: DnsServer) -> None:
    wire_value = dkim_like_value(410)
    provider = make_provider(dns_server)

    plan = provider.plan(desired_zone("example.org.", wire_value))
    assert plan is not None and len(plan.changes) == 1
    provider.apply(plan)

    name = "sel._domainkey.example.org."
    (rdata,) = query(dns_server, name, "TXT")
    assert rdata.count('" "') == 1, "a 410-char value needs two character-strings"
    assert txt_values(dns_server, name) == [wire_value]
    assert provider.plan(desired_zone("example.org.", wire_value)) is None
