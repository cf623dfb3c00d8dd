"""TXT strings in presentation form, byte for byte as dnspython writes them (the drift check
compares the two)."""

from __future__ import annotations

import dns.rdata
import dns.rdataclass
import dns.rdatatype
from hypothesis import given
from hypothesis import strategies as st

from mailzone.util.txt import quote_txt


@given(st.binary(max_size=255))
def test_quote_txt_is_dnspythons(chunk: bytes) -> None:
    wire = bytes([len(chunk)]) + chunk
    rdata = dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.TXT, wire, 0, len(wire))
    assert quote_txt(chunk) == rdata.to_text()


def test_every_byte_value() -> None:
    chunk = bytes(range(255))
    wire = bytes([len(chunk)]) + chunk
    rdata = dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.TXT, wire, 0, len(wire))
    assert quote_txt(chunk) == rdata.to_text()
