"""The hand-packed RFC 2136 UPDATE (`dns/update.py`) says what dnspython's `UpdateMessage`
says for octoDNS's changes, its TSIG verified by dnspython, and its answers are read right."""

from __future__ import annotations

from typing import Any

import dns.exception
import dns.message
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.tsig
import dns.tsigkeyring
import dns.update
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from octodns.record import Record, ValidationError
from octodns.zone import Zone

from mailzone.dns import axfr, update

# octodns-bind's apply reads `Record.rrs` (its TXT chunking), and so do these tests
pytestmark = pytest.mark.filterwarnings("ignore:`Record.rrs` is DEPRECATED:DeprecationWarning")

ZONE = "example.org."
KEYRING = dns.tsigkeyring.from_text({"k.": "c2VjcmV0IGtleSBmb3IgdGVzdHM="})
KEY = axfr.tsig_key(KEYRING)

label = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,9}", fullmatch=True)
owner = st.lists(label, max_size=3).map(lambda labels: ".".join(labels))
host = st.lists(label, min_size=1, max_size=3).map(lambda labels: ".".join(labels) + ".")
# octoDNS's internal TXT form: `;` escaped, `\\` a backslash
tokens = ["a", "Z", "0", " ", "=", "+", "/", "-", "\\;", '"', "\\\\", "v=DKIM1\\; p=" + "A" * 90]
txt = st.lists(st.sampled_from(tokens), min_size=1, max_size=120).map("".join)
values: dict[str, Any] = {
    "A": st.ip_addresses(v=4).map(str),
    "AAAA": st.ip_addresses(v=6).map(str),
    "MX": st.builds(lambda p, x: {"preference": p, "exchange": x}, st.integers(0, 65535), host),
    "TXT": txt,
    "TLSA": st.builds(
        lambda u, s, m, d: {
            "certificate_usage": u,
            "selector": s,
            "matching_type": m,
            "certificate_association_data": d,
        },
        st.integers(0, 3),
        st.integers(0, 1),
        st.integers(0, 2),
        st.binary(min_size=1, max_size=64).map(bytes.hex),
    ),
    "CAA": st.builds(
        lambda t, v: {"flags": 0, "tag": t, "value": v},
        st.sampled_from(["issue", "iodef"]),
        st.sampled_from(["letsencrypt.org", "mailto:a@example.org"]),
    ),
}


@st.composite
def change(draw: st.DrawFn) -> update.Change:
    rtype = draw(st.sampled_from([*values, "CNAME"]))
    if rtype == "CNAME":
        data: dict[str, Any] = {"type": rtype, "value": draw(host)}
    else:
        data = {"type": rtype, "values": draw(st.lists(values[rtype], min_size=1, max_size=3))}
    data["ttl"] = draw(st.integers(0, 86400))
    zone = Zone(ZONE, [])
    try:
        record = Record.new(zone, draw(owner), data)
    except ValidationError:
        assume(False)
    # octoDNS's legacy chunking (`rrs`) loops forever on a value that ends in a backslash
    assume(not any(str(v).endswith("\\") for v in getattr(record, "values", [])))
    name, ttl, rtype, texts = record.rrs
    return draw(st.sampled_from(["add", "replace", "delete"])), name, ttl, rtype, texts


def dnspythons(changes: list[update.Change]) -> dns.update.UpdateMessage:
    """The update octodns-bind's provider sends for the same changes."""
    message = dns.update.UpdateMessage(ZONE)
    for op, name, ttl, rtype, texts in changes:
        rdatas = [dns.rdata.from_text(dns.rdataclass.IN, rtype, t) for t in texts]
        if op == "add":
            message.add(name, ttl, *rdatas)
        elif op == "replace":
            message.replace(name, ttl, *rdatas)
        else:
            message.delete(name, *rdatas)
    return message


def sections(message: dns.message.Message) -> list[Any]:
    return [
        [(r.name, r.rdclass, r.rdtype, r.deleting, r.ttl, sorted(r)) for r in section]
        for section in message.sections
    ]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(change(), min_size=1, max_size=6))
def test_packed_update_says_what_dnspythons_update_says(changes: list[update.Change]) -> None:
    # octoDNS plans one change per name and type
    assume(len({(c[1].lower(), c[3]) for c in changes}) == len(changes))
    try:
        expected = dnspythons(changes)
    except dns.exception.SyntaxError:  # a value dnspython refuses is refused the same way
        with pytest.raises(dns.exception.SyntaxError):
            update.pack(ZONE, changes, 4242)
        return
    wire, mac = axfr.sign(update.pack(ZONE, changes, 4242), KEY)

    parsed = dns.message.from_wire(wire, keyring=KEYRING)  # its TSIG verified

    assert parsed.id == 4242 and parsed.mac == mac
    assert parsed.flags == expected.flags
    assert sections(parsed) == sections(expected)


@pytest.mark.parametrize(
    ("rtype", "text"),
    [
        ("A", "192.0.2.1"),
        ("AAAA", "2001:db8::25"),
        ("AAAA", "::ffff:192.0.2.1"),
        ("MX", "10 mail.example.org."),
        ("MX", "0 ."),
        ("TXT", '"v=DKIM1\\; k=rsa\\; p=' + "A" * 230 + '" "' + "B" * 180 + '"'),
        ("TXT", '"v=spf1 ip4:192.0.2.1 -all"'),
        ("TXT", '"with \\"quotes\\" and \\\\ backslash"'),  # not plain: dnspython's parser
        ("TXT", '"caf\\195\\169"'),
        ("CNAME", "target.example.net."),
        ("CNAME", "we\\.ird.example.net."),
        ("TLSA", "3 1 1 " + "ab" * 32),
        ("SRV", "1 2 5060 sip.example.org."),
    ],
)
def test_rdata_wire_equals_dnspythons(rtype: str, text: str) -> None:
    expected = dns.rdata.from_text(dns.rdataclass.IN, rtype, text).to_wire()

    assert update.rdata_wire(rtype, text) == expected


def answer(rcode: dns.rcode.Rcode, sign: bool = True) -> tuple[bytes, bytes | None]:
    """A server's signed answer to a packed update (and the update's MAC)."""
    wire, mac = axfr.sign(update.pack(ZONE, [("add", f"a.{ZONE}", 60, "A", ["192.0.2.1"])], 7), KEY)
    query = dns.message.from_wire(wire, keyring=KEYRING)
    reply = dns.message.make_response(query)
    reply.set_rcode(rcode)
    if not sign:
        reply.keyring = None
        reply.tsig = None
    return reply.to_wire(), mac


def test_answer_rcode_is_read_and_its_tsig_checked() -> None:
    ok, mac = answer(dns.rcode.NOERROR)
    refused, mac2 = answer(dns.rcode.REFUSED)

    assert update.answer_rcode(ok, 7, KEY, mac) == dns.rcode.NOERROR
    assert update.answer_rcode(refused, 7, KEY, mac2) == dns.rcode.REFUSED
    with pytest.raises(dns.tsig.BadSignature):
        update.answer_rcode(ok, 7, KEY, b"another request's MAC")
    with pytest.raises(dns.tsig.BadSignature):
        update.answer_rcode(answer(dns.rcode.NOERROR, sign=False)[0], 7, KEY, mac)
    with pytest.raises(dns.query.BadResponse):
        update.answer_rcode(ok, 8, KEY, mac)
