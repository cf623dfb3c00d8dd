"""MTA-STS: the policy text and its id, the records, the spec's validation (one line per
problem), `mx:` wildcards, and the check given DNS answers."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailzone.check.env import CheckEnv
from mailzone.check.mta_sts import Policy, PolicyError, check_mta_sts, parse_policy
from mailzone.dns.query import Answer
from mailzone.octo import registry
from mailzone.records.families import generates
from mailzone.records.mta_sts import mx_covered, policy_id, policy_text
from mailzone.repo.project import Domain
from tests.helpers import MTA_STS_SPEC as STS
from tests.helpers import basic_spec, example_errors, load_example


def test_policy_lists_every_mx_host_with_crlf_lines(tmp_path: Path) -> None:
    body = basic_spec(extra=STS) + "  max_age: 1d\n"
    body = body.replace(
        "hosts:\n", "hosts:\n  - {name: mx2, ipv4: [192.0.2.26], mx_priority: 20}\n"
    )
    spec = load_example(tmp_path, body).spec

    assert policy_text(spec) == (
        "version: STSv1\r\nmode: testing\r\nmx: mail.example.org\r\nmx: mx2.example.org\r\n"
        "max_age: 86400\r\n"
    )


def test_records_are_the_txt_with_the_policy_id_and_the_host_addresses(tmp_path: Path) -> None:
    domain = load_example(tmp_path, basic_spec(extra=STS))
    records = {(r.name, r.type): r.values for r in domain.records}

    assert records[("_mta-sts", "TXT")] == (f"v=STSv1; id={policy_id(domain.spec)}",)
    assert records[("mta-sts", "A")] == ("192.0.2.80",)
    assert records[("mta-sts", "AAAA")] == ("2001:db8::80",)
    assert "max_age: 604800\r\n" in policy_text(domain.spec)  # the default: one week


def test_the_id_changes_with_the_policy_and_only_then(tmp_path: Path) -> None:
    base = basic_spec(extra=STS)
    first = policy_id(load_example(tmp_path, base).spec)
    assert policy_id(load_example(tmp_path, base).spec) == first
    # the host's address and the TTL are not in the policy
    moved = base.replace("192.0.2.80", "192.0.2.81").replace("ttl: 300", "ttl: 600")
    assert policy_id(load_example(tmp_path, moved).spec) == first
    changed = {
        policy_id(load_example(tmp_path, base.replace("mode: testing", "mode: none")).spec),
        policy_id(load_example(tmp_path, base + "  max_age: 2w\n").spec),
        policy_id(load_example(tmp_path, base + "  mx: ['*.example.org']\n").spec),
    }
    assert first not in changed and len(changed) == 3
    assert all(len(i) == 20 and i.isalnum() for i in changed)


@pytest.mark.parametrize(
    ("host", "pattern", "covered"),
    [
        ("mx1.example.org", "*.example.org", True),
        ("a.b.example.org", "*.example.org", False),
        ("example.org", "*.example.org", False),
        ("mail.example.org", "mail.example.org", True),
        ("mail.example.org.", "MAIL.example.org", True),
        ("mail.example.net", "*.example.org", False),
    ],
)
def test_a_wildcard_covers_exactly_one_leftmost_label(
    host: str, pattern: str, covered: bool
) -> None:
    assert mx_covered(host, pattern) is covered


def test_enforce_needs_tls_rpt_and_every_mx_host_covered(tmp_path: Path) -> None:
    body = basic_spec(extra=STS.replace("testing", "enforce")) + "  mx: ['*.example.net']\n"

    errors = example_errors(tmp_path, body)

    assert errors == [
        "zones/example.org.yaml:12: mta_sts.mode: enforce needs tls_rpt (reports of failed "
        "deliveries); add tls_rpt or use mode: testing",
        "zones/example.org.yaml:16: mta_sts.mx: no mx: line matches MX host mail.example.org; "
        "enforcing senders would refuse to deliver there",
    ]


def test_a_wildcard_line_covers_the_mx_hosts_in_testing_and_none(tmp_path: Path) -> None:
    body = basic_spec(extra=STS) + "  mx: ['*.example.org']\n"
    assert load_example(tmp_path, body).spec.mta_sts is not None
    assert load_example(tmp_path, body.replace("testing", "none")).spec.mta_sts is not None


def test_enforce_with_tls_rpt_and_covered_mx_is_valid(tmp_path: Path) -> None:
    body = basic_spec(extra=STS.replace("testing", "enforce"))
    body += "tls_rpt:\n  rua: ['mailto:tls@example.org']\n"

    assert load_example(tmp_path, body).spec.mta_sts is not None


@pytest.mark.parametrize(
    ("extra", "line", "message"),
    [
        ("  max_age: 400d\n", 16, "mta_sts.max_age: 400d is longer than 31557600 s (RFC 8461)"),
        ("  mx: ['*.']\n", 16, "mta_sts.mx[0]: '*.' is not an MX host name (mail.example.org)"),
        (
            "  mx: [a.example.org, a.example.org]\n",
            16,
            "mta_sts.mx: 'a.example.org' is listed twice",
        ),
    ],
)
def test_bad_values_are_one_line_each(tmp_path: Path, extra: str, line: int, message: str) -> None:
    errors = example_errors(tmp_path, basic_spec(extra=STS) + extra)

    assert len(errors) == 1
    assert errors[0].startswith(f"zones/example.org.yaml:{line}: "), errors
    assert message in errors[0]


def test_a_host_needs_an_address_and_a_mode(tmp_path: Path) -> None:
    errors = example_errors(tmp_path, basic_spec(extra="mta_sts:\n  host: {}\n"))

    assert errors == [
        "zones/example.org.yaml:11: mta_sts.mode: required field is missing",
        "zones/example.org.yaml:12: mta_sts.host: give ipv4/ipv6 or cname: mailzone creates the "
        "A/AAAA or the CNAME of mta-sts.<domain>",
    ]
    both = STS + "    cname: web.example.net.\n"
    (error,) = example_errors(tmp_path, basic_spec(extra=both))
    assert error.startswith("zones/example.org.yaml:13: mta_sts.host: give ipv4/ipv6 or cname")


def test_a_cname_host_is_the_only_record_at_mta_sts(tmp_path: Path) -> None:
    body = basic_spec(extra="mta_sts:\n  mode: testing\n  host: {cname: Web.Example.NET}\n")
    records = {(r.name, r.type): r.values for r in load_example(tmp_path, body).records}

    assert [t for n, t in records if n == "mta-sts"] == ["CNAME"]
    assert records[("mta-sts", "CNAME")] == ("web.example.net.",)


@pytest.mark.parametrize(
    ("kind", "name", "trusted"),
    [
        ("CNAME", "mta-sts", True),
        ("CNAME", "mta-sts.sub", True),
        ("CNAME", "www", False),
        ("NS", "sub", False),
        ("A", "www", True),
        ("SPF", "@", True),
    ],
)
def test_a_registry_claims_a_cname_only_where_a_family_makes_one(
    kind: str, name: str, trusted: bool
) -> None:
    assert generates(kind, name) is trusted


class FakeDns:
    """Answers by (name, type); anything else is NXDOMAIN."""

    def __init__(self, answers: dict[tuple[str, str], Answer]) -> None:
        self.answers = answers
        self.connect: dict[str, tuple[str, int]] = {}

    def resolve(self, name: str, rdtype: str) -> Answer:
        return self.answers.get((name, rdtype), Answer("NXDOMAIN"))

    def txt(self, name: str) -> Answer:
        return self.resolve(name, "TXT")


def _check(domain: Domain, answers: dict[tuple[str, str], Answer]) -> list[tuple[str, str]]:
    env = cast(Any, FakeDns(answers))
    return [(f.status, f.message) for f in check_mta_sts(domain, cast(CheckEnv, env))]


def _txt(*values: str) -> Answer:
    return Answer("NOERROR", [f'"{v}"' for v in values])


def test_check_passes_when_the_served_id_is_the_policys(tmp_path: Path) -> None:
    domain = load_example(tmp_path, basic_spec(extra=STS))
    good = f"v=STSv1; id={policy_id(domain.spec)}"
    host = {("mta-sts.example.org", "A"): Answer("NOERROR", ["192.0.2.80"])}

    found = _check(domain, {("_mta-sts.example.org", "TXT"): _txt(good), **host})
    assert [s for s, _ in found] == ["pass", "pass", "unknown"]
    assert "192.0.2.80, which is not a public address" in found[2][1]  # never dialled
    assert _check(domain, {("_mta-sts.example.org", "TXT"): _txt("v=STSv1; id=old1"), **host})[
        0
    ] == (
        "fail",
        f"_mta-sts.example.org serves id=old1, the spec's policy has id={policy_id(domain.spec)}: "
        "senders keep the policy they cached",
    )
    two = _check(domain, {("_mta-sts.example.org", "TXT"): _txt(good, "v=STSv1; id=x"), **host})
    assert two[0][0] == "fail" and "2 v=STSv1 records" in two[0][1]
    bad = _check(domain, {("_mta-sts.example.org", "TXT"): _txt("v=STSv1; id=a-b"), **host})
    assert bad[0] == ("fail", "_mta-sts.example.org: id='a-b' is not 1 to 32 letters and digits")
    gone = _check(domain, {})
    assert [s for s, _ in gone] == ["fail", "fail"]
    assert "no v=STSv1 record" in gone[0][1] and "has no address" in gone[1][1]


def test_check_says_nothing_without_mta_sts(tmp_path: Path) -> None:
    assert _check(load_example(tmp_path, basic_spec()), {}) == []


@pytest.mark.parametrize(
    ("note", "today", "allowed"),
    [
        (None, date(2026, 12, 6), True),  # nothing published by mailzone with notes
        ("testing@2026-01-01~604800", date(2026, 12, 6), False),  # never went through none
        ("none@2026-12-01~604800", date(2026, 12, 7), False),  # one week not over
        ("none@2026-12-01~604800", date(2026, 12, 8), True),
        ("none@2026-12-01~31557600", date(2027, 6, 1), False),  # a year's cache carried along
    ],
)
def test_removal_waits_for_mode_none_to_outlive_max_age(
    note: str | None, today: date, allowed: bool
) -> None:
    assert (registry.mta_sts_removal_problem(note, today) is None) is allowed


@pytest.mark.parametrize(
    ("note", "until"),
    [
        (None, None),
        ("enforce@2026-01-01~604800", "2026-12-13"),  # a sender may have fetched it today
        ("testing@2026-12-06~90000", "2026-12-08"),  # 25 hours: whole days, rounded up
        ("none@2026-12-01~604800", "2026-12-08"),  # an earlier policy, cached before none
        ("none@2026-11-01~604800", None),  # none outlived max_age: nothing is cached
    ],
)
def test_forgetting_warns_until_when_senders_may_hold_the_policy(
    note: str | None, until: str | None
) -> None:
    warning = registry.mta_sts_forget_warning(note, date(2026, 12, 6))

    assert (warning is None) is (until is None)
    if warning is not None:
        assert warning.endswith(f"until {until}") and "max_age" in warning, warning


def test_the_note_round_trips_with_and_without_its_date() -> None:
    assert registry.parse_mta_sts_note(registry.mta_sts_note("none", date(2026, 12, 6), 86400)) == (
        "none",
        date(2026, 12, 6),
        86400,
    )
    assert registry.parse_mta_sts_note("enforce~604800") == ("enforce", None, 604800)
    assert registry.parse_mta_sts_note("none@yesterday~1") is None


def test_the_spec_policy_text_parses_to_what_the_spec_says(tmp_path: Path) -> None:
    body = basic_spec(extra=STS) + "  max_age: 1d\n  mx: ['*.example.org', 'MX.Example.NET.']\n"
    spec = load_example(tmp_path, body).spec

    assert parse_policy(policy_text(spec)) == Policy(
        "testing", frozenset({"*.example.org", "mx.example.net"}), 86400
    )


_PATTERNS = st.lists(
    st.from_regex(r"(\*\.)?[a-z0-9]{1,8}(\.[a-z0-9]{1,8}){1,3}", fullmatch=True),
    min_size=1,
    max_size=4,
)


@given(
    mode=st.sampled_from(["enforce", "testing", "none"]),
    mx=_PATTERNS,
    max_age=st.integers(0, 31557600),
    newline=st.sampled_from(["\r\n", "\n"]),
    space=st.sampled_from(["", " ", "\t", "  "]),
    unknown=st.booleans(),
)
def test_any_valid_policy_parses_to_its_fields(
    mode: str, mx: list[str], max_age: int, newline: str, space: str, unknown: bool
) -> None:
    lines = ["version: STSv1", f"mode:{space}{mode}{space}"]
    lines += [f"mx: {pattern}" for pattern in mx]
    if unknown:
        lines.insert(2, "x-note: anything at all: even colons")
    lines.append(f"max_age: {max_age}")

    assert parse_policy(newline.join(lines) + newline) == Policy(mode, frozenset(mx), max_age)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("mode: testing\nversion: STSv1\n", "line 1: the first line must be `version: STSv1`"),
        ("version: STSv2\nmode: testing\nmx: a.org\nmax_age: 1\n", "version: 'STSv2' is not STSv1"),
        ("version: STSv1\nmode: enforcing\nmx: a.org\nmax_age: 1\n", "mode: 'enforcing' is not"),
        ("version: STSv1\nmode: testing\nmax_age: 1\n", "no mx: line (mode testing needs"),
        ("version: STSv1\nmode: testing\nmx: a.org\nmax_age: 31557601\n", "max_age: '31557601'"),
        ("version: STSv1\nmode: testing\nmx: a.org\nmax_age: 1w\n", "max_age: '1w' is not"),
        ("version: STSv1\nmode: testing\nmx: a.org\n", "max_age: '(missing)'"),
        ("version: STSv1\nmode: testing\nmode: enforce\n", "line 3: mode is given twice"),
        ("version: STSv1\nmode testing\n", "line 2: 'mode testing' is not `key: value`"),
        ("version: STSv1\nmode: testing\nmx: mx*.a.org\nmax_age: 1\n", "line 3: mx: 'mx*.a.org'"),
        ("<html>\n<body>nope</body>\n", "line 1: '<html>' is not `key: value`"),
    ],
)
def test_an_invalid_policy_is_named_by_line(text: str, error: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)

    assert str(caught.value).startswith(error), str(caught.value)


def test_mode_none_needs_no_mx_line() -> None:
    assert parse_policy("version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n") == Policy(
        "none", frozenset(), 86400
    )
