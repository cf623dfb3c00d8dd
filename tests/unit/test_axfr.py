"""The lean AXFR reader (`dns/axfr.py`) on messages dnspython signs: values read directly, and
a reply whose TSIG does not verify is not taken."""

from __future__ import annotations

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
    soas, _ = axfr._read(wire, query.id, dns.name.from_text(ZONE), key, out, 0, None)
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
