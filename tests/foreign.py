"""Records that someone else made on a live server (straight through octoDNS, not mailzone), and
the check that mailzone left every one of them as it was."""

from __future__ import annotations

from typing import Any

from octodns.record import Record
from octodns.zone import Zone

from tests.servers import DnsServer, make_provider, query, txt_values

FOREIGN: list[tuple[str, dict[str, Any]]] = [
    ("", {"type": "TXT", "ttl": 300, "values": ["google-site-verification=abc123", "MS=ms42"]}),
    ("www", {"type": "A", "ttl": 300, "value": "192.0.2.80"}),
    ("shop", {"type": "CNAME", "ttl": 300, "value": "shops.example.net."}),
    ("s1._domainkey", {"type": "CNAME", "ttl": 300, "value": "s1.domainkey.u1.wl.sendgrid.net."}),
    ("google._domainkey", {"type": "TXT", "ttl": 300, "value": "v=DKIM1\\; k=rsa\\; p=MIIBgoogle"}),
]


def add_foreign(server: DnsServer, records: list[tuple[str, dict[str, Any]]] = FOREIGN) -> None:
    """Records someone else made, written straight through octoDNS."""
    provider = make_provider(server, "someone-else")
    zone = Zone("example.org.", [])
    for name, data in records:
        zone.add_record(Record.new(zone, name, data))
    plan = provider.plan(zone)
    provider.apply(plan)


def assert_foreign_intact(server: DnsServer) -> None:
    """Every record of FOREIGN is still served, value for value."""
    apex = txt_values(server, "example.org.")
    assert "google-site-verification=abc123" in apex and "MS=ms42" in apex
    assert query(server, "www.example.org.", "A") == ["192.0.2.80"]
    assert query(server, "shop.example.org.", "CNAME") == ["shops.example.net."]
    assert query(server, "s1._domainkey.example.org.", "CNAME") == [
        "s1.domainkey.u1.wl.sendgrid.net."
    ]
    assert txt_values(server, "google._domainkey.example.org.") == ["v=DKIM1; k=rsa; p=MIIBgoogle"]
