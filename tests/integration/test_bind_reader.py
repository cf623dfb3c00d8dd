"""mailzone's AXFR reader gives exactly the records octodns-bind's own reader gives, and its
hand-packed updates write what octodns-bind's write and fail as they fail."""

from __future__ import annotations

import time
from typing import Any

import dns.tsig
import pytest
from octodns.record import Record
from octodns.zone import Zone
from octodns_bind import Rfc2136Provider, Rfc2136ProviderUpdateFailed

from mailzone.dns import update
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


def _zone(records: list[tuple[str, dict[str, Any]]], name: str = "example.org.") -> Zone:
    zone = Zone(name, [])
    for host, data in records:
        zone.add_record(Record.new(zone, host, data))
    return zone


def test_fast_apply_writes_in_batches_over_one_connection(
    bind_server: BindServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {k: v for k, v in bind_server.provider_config().items() if k != "class"}
    fast = FastRfc2136Provider("fast", update_batch_size=3, **config)
    connections = []
    connect = update.socket.create_connection
    monkeypatch.setattr(
        update.socket,
        "create_connection",
        lambda *a, **k: connections.append(a) or connect(*a, **k),
    )
    stock = Rfc2136Provider("stock", **config)

    plan = fast.plan(_zone(RECORDS))
    connections.clear()  # the AXFR's
    fast.apply(plan)
    assert len(connections) == 1  # 11 changes, 4 batches, one connection
    assert _read(stock) == _read(fast) and len(_read(stock)) == len(RECORDS) + 1  # apex NS

    # replace a TXT set, delete the CNAME and a value of the A set
    changed = [(n, d) for n, d in RECORDS if d["type"] != "CNAME"]
    changed = [
        (n, {**d, "values": ["192.0.2.2"]} if (n, d["type"]) == ("mail", "A") else d)
        for n, d in changed
    ]
    changed.append(("_dmarc", {"type": "TXT", "ttl": 60, "value": "v=DMARC1\\; p=none"}))
    changed = [
        (n, d) for n, d in changed if (n, d.get("value")) != ("_dmarc", RECORDS[2][1]["value"])
    ]
    fast.apply(fast.plan(_zone(changed)))

    read = _read(stock)
    assert ("www", "CNAME") not in read
    assert read[("mail", "A")] == {"ttl": 300, "value": "192.0.2.2"}
    assert read[("_dmarc", "TXT")] == {"ttl": 60, "value": "v=DMARC1\\; p=none"}
    assert read == _read(fast)


def _plan(server: BindServer, zone: Zone) -> Any:
    config = {k: v for k, v in server.provider_config().items() if k != "class"}
    planner = FastRfc2136Provider("planner", **config)
    return planner.plan(zone)


@pytest.mark.parametrize("provider", [Rfc2136Provider, FastRfc2136Provider])
def test_a_refused_update_fails_as_octodns_bind_fails(
    bind_server: BindServer, provider: Any
) -> None:
    config = {k: v for k, v in bind_server.provider_config().items() if k != "class"}
    plan = _plan(bind_server, _zone(RECORDS[:1], "not-served.example."))

    with pytest.raises(Rfc2136ProviderUpdateFailed, match="NOTAUTH"):
        provider("target", **config).apply(plan)


@pytest.mark.parametrize("provider", [Rfc2136Provider, FastRfc2136Provider])
def test_an_update_signed_with_a_wrong_secret_fails_as_octodns_bind_fails(
    bind_server: BindServer, provider: Any
) -> None:
    config = {k: v for k, v in bind_server.provider_config().items() if k != "class"}
    plan = _plan(bind_server, _zone(RECORDS[:1]))
    config["key_secret"] = "d3Jvbmcgc2VjcmV0IGZvciB0ZXN0cw=="

    with pytest.raises(dns.tsig.PeerBadSignature):
        provider("target", **config).apply(plan)
