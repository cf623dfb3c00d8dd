"""The hand-packed DNS path reads replies exactly as dnspython does, and hands anything unusual
back to dnspython."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailzone.dns import wire as dnswire

NAME = "sel._domainkey.example.org."


def _reply(rdtype: str, values: list[str], name: str = NAME, rcode: int = 0) -> tuple[bytes, bytes]:
    wire = dnswire.question(name, rdtype, 0x1234)
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    if values:
        response.answer.append(dns.rrset.from_text(name, 300, "IN", rdtype, *values))
    return response.to_wire(), wire


def _dnspython(data: bytes, rdtype: str) -> list[str]:
    message = dns.message.from_wire(data)
    wanted = dns.rdatatype.from_text(rdtype)
    for rrset in message.answer:
        if rrset.rdtype == wanted:
            return [r.to_text() for r in rrset]
    return []


CASES = [
    ("A", ["192.0.2.1", "192.0.2.2"]),
    ("AAAA", ["2001:db8::25", "2001:db8:0:0:1::1"]),
    ("MX", ["10 mail.example.org.", "20 backup.example.net."]),
    ("PTR", ["mail.example.org."]),
    ("CNAME", ["target.example.net."]),
    ("NS", ["ns1.example.org."]),
    ("SOA", ["ns1.example.org. hostmaster.example.org. 2026112501 3600 600 604800 300"]),
    ("TXT", ['"v=DKIM1; k=rsa; p=' + "A" * 200 + '" "' + "B" * 150 + '"', '"two" "strings"']),
    ("TXT", ['"quote\\" backslash\\\\ byte\\200"']),
]


@pytest.mark.parametrize(("rdtype", "values"), CASES)
def test_records_read_as_dnspython_writes_them(rdtype: str, values: list[str]) -> None:
    data, wire = _reply(rdtype, values)

    rcode, records, ttl, texts = dnswire.parse(data, wire, rdtype)

    assert rcode == "NOERROR"
    assert sorted(records) == sorted(_dnspython(data, rdtype))
    assert ttl == 300
    if rdtype == "TXT":
        message = dns.message.from_wire(data)
        joined = [b"".join(r.strings).decode("utf-8", "replace") for r in message.answer[0]]
        assert sorted(texts or ()) == sorted(joined)


def test_negative_and_error_replies() -> None:
    nx, wire = _reply("TXT", [], rcode=3)
    assert dnswire.parse(nx, wire, "TXT") == ("NXDOMAIN", [], None, ())
    fail, wire = _reply("A", [], rcode=2)
    assert dnswire.parse(fail, wire, "A")[0] == "SERVFAIL"


def test_truncated_or_mismatched_replies_go_to_dnspython() -> None:
    data, wire = _reply("TXT", ['"x"'])
    message = dns.message.from_wire(data)
    message.flags |= dns.flags.TC
    with pytest.raises(dnswire.Unusual):
        dnswire.parse(message.to_wire(), wire, "TXT")
    other, _ = _reply("TXT", ['"x"'], name="other.example.org.")
    with pytest.raises(dnswire.Unusual):
        dnswire.parse(other, wire, "TXT")
    with pytest.raises(dnswire.Unusual):
        dnswire.parse(data[:20], wire, "TXT")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=255), min_size=1, max_size=4))
def test_any_txt_strings_read_as_dnspython_reads_them(strings: list[bytes]) -> None:
    wire = dnswire.question(NAME, "TXT", 7)
    response = dns.message.make_response(dns.message.from_wire(wire))
    rdata = dns.rdata.from_wire(
        dns.rdataclass.IN,
        dns.rdatatype.TXT,
        b"".join(bytes([len(s)]) + s for s in strings),
        0,
        sum(len(s) + 1 for s in strings),
    )
    rrset = dns.rrset.RRset(dns.name.from_text(NAME), dns.rdataclass.IN, dns.rdatatype.TXT)
    rrset.add(rdata, 60)
    response.answer.append(rrset)
    data = response.to_wire()

    _, records, _, texts = dnswire.parse(data, wire, "TXT")

    assert records == [rdata.to_text()]
    assert texts == (b"".join(strings).decode("utf-8", "replace"),)


@given(st.lists(st.binary(min_size=1, max_size=63), min_size=1, max_size=4))
def test_any_name_reads_as_dnspython_writes_it(labels: list[bytes]) -> None:
    """Plain labels take a shortcut; every other byte is escaped as dnspython escapes it."""
    name = dns.name.Name([*labels, b""])
    assert dnswire._name(name.to_wire(), 0) == name.to_text()
