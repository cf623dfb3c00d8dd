"""Question names are made absolute and lower-case as dnspython would, with or without its
parser (the client's cache is keyed by them)."""

from __future__ import annotations

import dns.exception
import dns.name
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailzone.dns.query import _absolute

labels = st.text(alphabet='aZ09-_*.\\ "@é', min_size=0, max_size=70)


def _reference(name: str) -> str | type[Exception]:
    try:
        return dns.name.from_text(name).to_text().lower()
    except (dns.exception.DNSException, UnicodeError) as err:
        return type(err)


def _assert_same(name: str) -> None:
    want = _reference(name)
    if isinstance(want, str):
        assert _absolute(name) == want
    else:
        with pytest.raises(want):
            _absolute(name)


@given(st.lists(labels, min_size=1, max_size=6).map(".".join))
def test_absolute_is_dnspythons(name: str) -> None:
    _assert_same(name)


@pytest.mark.parametrize(
    "name",
    ["Mail.Example.ORG", "_dmarc.example.org.", "a" * 63 + ".test", "x." * 126 + "y", "a" * 64],
)
def test_plain_names(name: str) -> None:
    _assert_same(name)
