"""The PowerDNS reader of the pre-filter (`octo/pdns_reader.py`): a record's API `content`
turns into the canonical value of what octoDNS's PowerDNS provider reads from it, or into
"don't know" (Opaque), never into something else."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from octodns.record import Record
from octodns.zone import Zone

from mailzone.octo import fastpath
from mailzone.octo.pdns_reader import FastPowerDnsProvider, lean_value

PROVIDER = FastPowerDnsProvider("pdns", host="127.0.0.1", api_key="key")


def octodns_reads(rtype: str, contents: list[str]) -> fastpath.RRset | None:
    """What octoDNS's provider makes of the contents, canonical; None if it refuses them."""
    rrset = {"name": "t.example.org.", "type": rtype, "ttl": 300}
    rrset["records"] = [{"content": c, "disabled": False} for c in contents]
    zone = Zone("example.org.", [])
    try:
        data = getattr(PROVIDER, f"_data_for_{rtype}")(rrset)
        return fastpath.record_set(Record.new(zone, "t", data, lenient=False))
    except Exception:
        return None


def prefilter_reads(rtype: str, contents: list[str]) -> fastpath.RRset | None:
    """The pre-filter's canonical set of the contents; None: Opaque (the full plan decides)."""
    try:
        values: Any = [lean_value(rtype, c) for c in contents]
        return 300, fastpath.canonical_values(rtype, values)
    except (fastpath.Opaque, ValueError):
        return None


def assert_same_or_opaque(rtype: str, contents: list[str]) -> bool:
    mine = prefilter_reads(rtype, contents)
    if mine is not None:
        assert mine == octodns_reads(rtype, contents), contents
    return mine is not None


@pytest.mark.parametrize(
    ("rtype", "contents", "judged"),
    [
        ("TXT", ['"v=spf1 -all"'], True),
        ("TXT", ['"v=DMARC1\\; p=none"'], True),  # as octoDNS writes it
        ("TXT", ['"a;b" "c"'], True),  # as someone else writes it
        ("TXT", ['"say \\"hi\\""'], False),
        ("TXT", ['""'], False),
        ("MX", ["10 mail.example.org."], True),
        ("MX", ["10 Mail.Example.ORG."], True),
        ("MX", ["0 ."], False),
        ("A", ["192.0.2.1"], True),
        ("AAAA", ["2001:db8:0::1"], True),
        ("CNAME", ["target.example.net."], True),
        ("TLSA", ["3 1 1 " + "AB" * 32], True),  # octoDNS lower-cases the data too
        ("TLSA", ["3 1 1 " + "ab" * 32, "2 0 1 " + "cd" * 32], True),
        ("TLSA", ["4 1 1 " + "ab" * 32], False),  # a usage octoDNS's validation refuses
        ("TLSA", ["3 1 0 " + "ab" * 100], False),
    ],
)
def test_a_content_reads_as_octodns_reads_it(rtype: str, contents: list[str], judged: bool) -> None:
    assert assert_same_or_opaque(rtype, contents) == judged


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(alphabet='ab; "\\', max_size=12), min_size=1, max_size=3))
def test_any_txt_content_reads_as_octodns_reads_it_or_is_opaque(contents: list[str]) -> None:
    assert_same_or_opaque("TXT", contents)
