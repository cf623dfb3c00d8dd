"""The check run's verdict: exit 4 when a DNS family could not be checked, and why."""

from __future__ import annotations

from mailzone.check.families import DNS_NAMES, FAMILIES, NETWORK_NAMES
from mailzone.check.model import DomainReport, Finding
from mailzone.check.verdict import Rules, exit_code, unchecked, unchecked_text


def report(*findings: tuple[str, str, str]) -> DomainReport:
    return DomainReport(
        "example.org",
        [Finding(check, "x", status, message) for check, status, message in findings],  # type: ignore[arg-type]
    )


def test_every_family_is_dns_or_network_and_the_network_ones_are_those_ci_blocks() -> None:
    assert set(DNS_NAMES) | set(NETWORK_NAMES) == {f.name for f in FAMILIES}
    assert set(NETWORK_NAMES) == {"blocklist", "smtp", "dane_smtp", "https"}


def test_an_unknown_dns_family_is_inconclusive_and_names_its_cause() -> None:
    given = report(
        ("spf", "unknown", "TXT example.org: no answer (timeout)"),
        ("mx", "unknown", "MX example.org: no answer (connection refused)"),
        ("rdns", "unknown", "PTR for 192.0.2.1: no answer (no system resolver configured)"),
        ("smtp", "unknown", "cannot resolve mail.example.org (A: timeout)"),
        ("dkim", "pass", "ok"),
    )

    found = unchecked(given, Rules())

    assert found == {"spf": ["timeout"], "mx": ["refused"], "rdns": ["no resolver"]}
    assert unchecked_text(found) == "spf (timeout); mx (refused); rdns (no resolver)"
    assert exit_code([given], Rules()) == 4


def test_a_failure_wins_over_inconclusive_and_an_error_over_both() -> None:
    failed = report(("spf", "unknown", "timeout"), ("dmarc", "fail", "no record"))
    broken = DomainReport("example.net", error="cannot load")

    assert exit_code([failed], Rules()) == 3
    assert exit_code([failed, broken], Rules()) == 1


def test_allowed_and_network_unknowns_pass_unless_required() -> None:
    given = report(("spf", "unknown", "timeout"), ("smtp", "unknown", "port 25: timeout"))

    assert exit_code([given], Rules(allow=frozenset({"spf"}))) == 0
    assert exit_code([given], Rules(allow=frozenset({"all"}))) == 0
    required = Rules(allow=frozenset({"all"}), require=frozenset({"smtp"}))
    assert exit_code([given], required) == 4
    assert unchecked(given, required) == {"smtp": ["timeout"]}
