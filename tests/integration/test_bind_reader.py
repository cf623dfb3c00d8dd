"""mailzone's AXFR reader gives exactly the records octodns-bind's own reader gives."""

from __future__ import annotations

import time
from typing import Any

import pytest
from octodns.record import Record
from octodns.zone import Zone
from octodns_bind import Rfc2136Provider

from mailzone.octo.bind_reader import FastRfc2136Provider
from tests.helpers import rsa_public_b64
from tests.servers import BindServer

pytestmark = pytest.mark.integration

RECORDS: list[tuple[str, dict[str, Any]]] = [
    (
        "",
        {
            "type": "MX",
            "ttl": 300,
            "values": [
                {"preference": 10, "exchange": "mx1.example.net."},
                {"preference": 20, "exchange": "mx2.example.net."},
            ],
        },
    ),
    (
        "",
        {
            "type": "TXT",
            "ttl": 300,
            "values": ["v=spf1 ip4:192.0.2.1 -all", "google-site-verification=x"],
        },
    ),
    (
        "_dmarc",
        {"type": "TXT", "ttl": 600, "value": "v=DMARC1\\; p=reject\\; rua=mailto:a@example.org"},
    ),
    (
        "s1._domainkey",
        {"type": "TXT", "ttl": 300, "value": f"v=DKIM1\\; k=rsa\\; p={rsa_public_b64()}"},
    ),
    ("quoted", {"type": "TXT", "ttl": 300, "value": 'say \\"hi\\" and \\\\ back'}),
    ("mail", {"type": "A", "ttl": 300, "values": ["192.0.2.1", "192.0.2.2"]}),
    ("mail", {"type": "AAAA", "ttl": 300, "value": "2001:db8::1"}),
    ("www", {"type": "CNAME", "ttl": 300, "value": "web.example.net."}),
    (
        "_sip._tcp",
        {
            "type": "SRV",
            "ttl": 300,
            "value": {"priority": 1, "weight": 2, "port": 5060, "target": "sip.example.org."},
        },
    ),
    (
        "",
        {
            "type": "CAA",
            "ttl": 300,
            "value": {"flags": 0, "tag": "issue", "value": "letsencrypt.org"},
        },
    ),
    (
        "_25._tcp.mail",
        {
            "type": "TLSA",
            "ttl": 300,
            "value": {
                "certificate_usage": 3,
                "selector": 1,
                "matching_type": 1,
                "certificate_association_data": "ab" * 32,
            },
        },
    ),
]


def _read(provider: Any) -> dict[tuple[str, str], Any]:
    zone = Zone("example.org.", [])
    provider.populate(zone, target=True, lenient=True)
    return {(r.name, r._type): r.data for r in zone.records}


def _compare_readers(server: BindServer) -> dict[tuple[str, str], Any]:
    config = {k: v for k, v in server.provider_config().items() if k != "class"}
    stock = Rfc2136Provider("stock", **config)
    zone = Zone("example.org.", [])
    for name, data in RECORDS:
        zone.add_record(Record.new(zone, name, data))
    stock.apply(stock.plan(zone))
    # an inline-signed zone serves the update once named has signed it: wait for that (bounded)
    deadline = time.monotonic() + 15
    while not {(name, r["type"]) for name, r in RECORDS} <= set(_read(stock)):
        assert time.monotonic() < deadline, "the update never showed in the transfer"
        time.sleep(0.1)

    fast = _read(FastRfc2136Provider("fast", **config))

    assert fast == _read(stock)
    assert {name for name, _ in fast} >= {name for name, _ in RECORDS}
    return fast


def test_fast_reader_reads_what_the_stock_reader_reads(bind_server: BindServer) -> None:
    _compare_readers(bind_server)


@pytest.mark.zones("example.org.")
def test_a_signed_zone_reads_the_same_without_its_dnssec_records(
    signed_bind_server: BindServer,
) -> None:
    # the transfer of a signed zone carries DNSKEY, RRSIG, NSEC and named's signing state
    read = _compare_readers(signed_bind_server)
    assert read[("_25._tcp.mail", "TLSA")]["value"]["certificate_usage"] == 3
    assert {rtype for _, rtype in read} <= {
        "A",
        "AAAA",
        "CAA",
        "CNAME",
        "MX",
        "NS",
        "SRV",
        "TLSA",
        "TXT",
    }
