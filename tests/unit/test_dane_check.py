"""The DANE check given DNS answers (and, for `dane_smtp`, the key an MX presents)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, cast

import pytest

from mailzone.check import dane
from mailzone.check.dane import check_dane, check_dane_smtp
from mailzone.check.env import CheckEnv
from mailzone.dns.query import Answer
from mailzone.repo.project import Domain, load_domain
from mailzone.spec.state import TlsaKey
from tests.helpers import DANE_SPEC, basic_spec, write_spec

CURRENT, NEXT = "ab" * 32, "cd" * 32
NAME = "_25._tcp.mail.example.org"
SIGNED_ZONE = {("example.org", "DNSKEY"): Answer("NOERROR", ["257 3 13 AAAA"], signed=True)}


class FakeDns:
    """Answers by (name, type); anything else is NXDOMAIN. Every DANE question has the DO bit."""

    def __init__(self, answers: dict[tuple[str, str], Answer]) -> None:
        self.answers = answers

    def resolve(self, name: str, rdtype: str, dnssec: bool = False) -> Answer:
        assert dnssec
        return self.answers.get((name, rdtype), Answer("NXDOMAIN"))


def _domain(tmp_path: Path, *hashes: str) -> Domain:
    domain = load_domain(write_spec(tmp_path, "example.org", basic_spec(extra=DANE_SPEC)), tmp_path)
    keys = [
        TlsaKey.model_validate(
            {"host": "mail.example.org", "role": role, "spki_sha256": h, "added": "2026-12-01"}
        )
        for role, h in zip(("current", "next"), hashes, strict=False)
    ]
    return dataclasses.replace(domain, state=domain.state.model_copy(update={"tlsa": keys}))


def _tlsa(*data: str, usage: int = 3, matching: int = 1, signed: bool = True) -> Answer:
    return Answer("NOERROR", [f"{usage} 1 {matching} {d}" for d in data], 300, signed=signed)


def _check(domain: Domain, answers: dict[tuple[str, str], Answer]) -> list[tuple[str, str]]:
    env = cast(CheckEnv, cast(Any, FakeDns(answers)))
    return [(f.status, f.message) for f in check_dane(domain, env)]


def test_served_set_equal_to_the_state_in_a_signed_zone_passes(tmp_path: Path) -> None:
    domain = _domain(tmp_path, CURRENT, NEXT)
    found = _check(domain, {**SIGNED_ZONE, (NAME, "TLSA"): _tlsa(NEXT, CURRENT)})
    assert found == [
        ("pass", "example.org is signed (1 DNSKEY)"),
        ("pass", f"{NAME}: 2 signed TLSA 3 1 1, as in the state"),
    ]


@pytest.mark.parametrize(
    ("served", "why"),
    [
        ((), "no TLSA 3 1 1 record"),
        ((CURRENT,), f"missing {NEXT[:16]}…"),
        ((CURRENT, NEXT, "ef" * 32), f"1 not in the state ({'ef' * 8}…)"),
    ],
    ids=["missing", "one-missing", "stale"],
)
def test_a_served_set_other_than_the_state_fails_with_apply(
    tmp_path: Path, served: tuple[str, ...], why: str
) -> None:
    domain = _domain(tmp_path, CURRENT, NEXT)
    found = _check(domain, {**SIGNED_ZONE, (NAME, "TLSA"): _tlsa(*served)})
    assert found[1] == (
        "fail",
        f"{NAME}: {why}: what senders trust is not the keys the state records",
    )
    env = cast(CheckEnv, cast(Any, FakeDns({**SIGNED_ZONE, (NAME, "TLSA"): _tlsa(*served)})))
    assert check_dane(domain, env)[1].fix == "run `mailzone apply`"


def test_an_unsigned_zone_fails_whatever_its_tlsa(tmp_path: Path) -> None:
    domain = _domain(tmp_path, CURRENT)
    found = _check(domain, {(NAME, "TLSA"): _tlsa(CURRENT, signed=False)})
    assert found == [
        (
            "fail",
            "example.org has no DNSKEY: the zone is not signed, so receivers ignore the TLSA "
            "(the spec says dnssec: true)",
        ),
        ("fail", f"{NAME}: the TLSA answer carries no RRSIG: receivers ignore unsigned TLSA"),
    ]


def test_usages_0_and_1_matching_type_0_and_long_sets_are_named(tmp_path: Path) -> None:
    domain = _domain(tmp_path, CURRENT)
    answer = Answer(
        "NOERROR",
        [f"3 1 1 {CURRENT}", f"1 1 1 {NEXT}", "0 0 1 " + "ee" * 32, "3 1 0 3059301306"]
        + [f"2 1 1 {i:064x}" for i in range(6)],
        signed=True,
    )
    found = _check(domain, {**SIGNED_ZONE, (NAME, "TLSA"): answer})
    warnings = [m for s, m in found if s == "warn"]
    assert len(warnings) == 4
    assert (
        "usage 1 (PKIX-EE): SMTP senders treat it as unusable (RFC 7672 section 3.1.3)"
        in (warnings[0])
    )
    assert "usage 0 (PKIX-TA)" in warnings[1]
    assert "matching type 0 (the whole certificate or key)" in warnings[2]
    assert warnings[3] == f"{NAME} has 10 TLSA records: some senders give up on more than 8"
    assert found[-1][0] == "pass"  # the 3 1 1 set itself is the state's


def test_a_host_without_keys_in_the_state_warns_and_no_dane_says_nothing(tmp_path: Path) -> None:
    found = _check(_domain(tmp_path), SIGNED_ZONE)
    assert found[1] == (
        "warn",
        "the state records no TLS key of mail.example.org, so mailzone publishes no TLSA for it",
    )
    plain = load_domain(write_spec(tmp_path, "example.org", basic_spec()), tmp_path)
    assert _check(plain, {}) == []


@pytest.mark.parametrize(
    ("presented", "status"), [(CURRENT, "pass"), (NEXT, "fail")], ids=["served", "not-served"]
)
def test_the_presented_key_must_be_in_the_served_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, presented: str, status: str
) -> None:
    # given a TLSA set with the current key only, and an MX presenting `presented`
    monkeypatch.setattr(dane, "presented_spki", lambda host, env: presented)
    env = cast(CheckEnv, cast(Any, FakeDns({(NAME, "TLSA"): _tlsa(CURRENT)})))

    found = check_dane_smtp(_domain(tmp_path, CURRENT, NEXT), env)

    assert [f.status for f in found] == [status]
    if status == "fail":  # a next key served before its TLSA is exactly this
        assert found[0].message == (
            f"mail.example.org presents a key (SPKI SHA-256 {NEXT[:16]}…) that no TLSA at "
            f"{NAME} matches: DANE senders will refuse delivery"
        )
