"""SPF check_host() over an in-memory DNS, cross-checked against pyspf on the same records."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import spf

from mailzone.spf.evaluate import Reply, check_host
from mailzone.spf.macros import MacroContext, expand

ZONES: dict[tuple[str, str], list[str]] = {
    ("example.org", "TXT"): ["v=spf1 ip4:203.0.113.25 include:_spf.example.net -all"],
    ("_spf.example.net", "TXT"): ["v=spf1 ip6:2001:db8::/32 a:mx.example.net/24 ~all"],
    ("mx.example.net", "A"): ["198.51.100.7"],
    ("two.example", "TXT"): ["v=spf1 -all", "v=spf1 +all"],
    ("redir.example", "TXT"): ["v=spf1 redirect=example.org"],
    ("nowhere.example", "TXT"): ["v=spf1 redirect=missing.example"],
    ("macro.example", "TXT"): ["v=spf1 exists:%{ir}.%{l1r-}.lists.example ?all"],
    ("25.113.0.203.alice.lists.example", "A"): ["127.0.0.2"],
    ("mxmech.example", "TXT"): ["v=spf1 mx -all"],
    ("mxmech.example", "MX"): ["10 mail.mxmech.example."],
    ("mail.mxmech.example", "A"): ["192.0.2.10"],
    ("voids.example", "TXT"): ["v=spf1 a:v1.example a:v2.example a:v3.example -all"],
    ("upper.example", "TXT"): ["V=SPF1 IP4:192.0.2.0/24 -ALL"],
    ("bad.example", "TXT"): ["v=spf1 ip4:192.0.2.300 -all"],
    **{(f"n{i}.example", "TXT"): [f"v=spf1 include:n{i + 1}.example -all"] for i in range(12)},
    ("n12.example", "TXT"): ["v=spf1 +all"],
}
for i in range(13):
    ZONES.setdefault((f"n{i}.example", "TXT"), ["v=spf1 +all"])


def lookup(name: str, rdtype: str) -> Reply:
    return Reply(tuple(ZONES.get((name.rstrip(".").lower(), rdtype), [])))


def pyspf_lookup(
    name: str, qtype: str, *args: object, **kwargs: object
) -> list[tuple[tuple[str, str], object]]:
    out: list[tuple[tuple[str, str], object]] = []
    for value in ZONES.get((name.rstrip(".").lower(), qtype), []):
        if qtype == "TXT":
            out.append(((name, qtype), (value.encode(),)))
        elif qtype == "MX":
            pref, host = value.split()
            out.append(((name, qtype), (int(pref), host.rstrip("."))))
        else:
            out.append(((name, qtype), value))
    return out


@pytest.fixture(autouse=True)
def _pyspf_offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(spf, "DNSLookup", pyspf_lookup)
    yield


CASES = [
    ("203.0.113.25", "example.org", "pass"),
    ("198.51.100.9", "example.org", "pass"),  # a:mx.example.net/24 through the include
    ("2001:db8::1", "example.org", "pass"),
    ("192.0.2.1", "example.org", "fail"),
    ("192.0.2.1", "two.example", "permerror"),
    ("198.51.100.9", "redir.example", "pass"),
    ("192.0.2.1", "nowhere.example", "permerror"),
    ("203.0.113.25", "macro.example", "pass"),
    ("203.0.113.26", "macro.example", "neutral"),
    ("192.0.2.10", "mxmech.example", "pass"),
    ("192.0.2.11", "mxmech.example", "fail"),
    ("192.0.2.1", "voids.example", "permerror"),
    ("192.0.2.1", "upper.example", "pass"),
    ("192.0.2.1", "bad.example", "permerror"),
    ("192.0.2.1", "n0.example", "permerror"),  # 11 nested includes
    ("192.0.2.1", "none.example", "none"),
]


@pytest.mark.parametrize(("ip", "domain", "expected"), CASES)
def test_check_host_agrees_with_pyspf(ip: str, domain: str, expected: str) -> None:
    sender = f"alice@{domain}"
    ours = check_host(lookup, ip, domain, sender)
    theirs, _code, _text = spf.query(ip, sender, "mail." + domain).check()

    assert ours.result == expected, ours.reason
    assert theirs == expected


def test_lookup_and_void_counts_are_reported() -> None:
    assert check_host(lookup, "198.51.100.9", "redir.example", "").lookups == 3
    voids = check_host(lookup, "192.0.2.1", "voids.example", "")
    assert (voids.result, voids.voids) == ("permerror", 3)
    assert "void lookups" in voids.reason


def test_dns_errors_are_temperror() -> None:
    def failing(name: str, rdtype: str) -> Reply:
        return Reply(error="SERVFAIL") if name.startswith("_spf") else lookup(name, rdtype)

    result = check_host(failing, "192.0.2.1", "example.org", "")
    assert result.result == "temperror"
    assert "SERVFAIL" in result.reason


def test_macros_expand_as_rfc7208_examples() -> None:
    # RFC 7208 section 7.4, with sender strong-bad@email.example.com and IP 192.0.2.3
    ctx = MacroContext("strong-bad@email.example.com", "email.example.com", "192.0.2.3")
    assert expand("%{s}", ctx) == "strong-bad@email.example.com"
    assert expand("%{o}", ctx) == "email.example.com"
    assert expand("%{d4}", ctx) == "email.example.com"
    assert expand("%{d2}", ctx) == "example.com"
    assert expand("%{dr}", ctx) == "com.example.email"
    assert expand("%{d2r}", ctx) == "example.email"
    assert expand("%{l}", ctx) == "strong-bad"
    assert expand("%{l-}", ctx) == "strong.bad"
    assert expand("%{lr-}", ctx) == "bad.strong"
    assert expand("%{l1r-}", ctx) == "strong"
    assert expand("%{ir}.%{v}._spf.%{d2}", ctx) == "3.2.0.192.in-addr._spf.example.com"
    six = MacroContext("strong-bad@email.example.com", "email.example.com", "2001:db8::cb01")
    assert expand("%{ir}.%{v}._spf.%{d2}", six) == (
        "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
    )
    with pytest.raises(ValueError, match="bad macro"):
        expand("%{x}", ctx)
