"""TLS-RPT (RFC 8460): the `tls_rpt` spec field, the `_smtp._tls` record it expands to, octoDNS's
own validators on that record, and the `tls_rpt` check given canned DNS answers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from octodns.record import Record

from mailzone.check.env import CheckEnv
from mailzone.check.model import Finding
from mailzone.check.tls_rpt import check_tls_rpt
from mailzone.dns.query import Answer
from mailzone.errors import SpecError
from mailzone.octo.desired import octodns_data
from mailzone.repo.project import Domain, load_domain
from mailzone.spec.host import HostConfig
from tests.helpers import basic_spec, write_spec

NAME = "_smtp._tls.example.org"
RUA = '["mailto:tls@example.org", "https://reports.example.net/tlsrpt"]'
WANTED = "v=TLSRPTv1; rua=mailto:tls@example.org,https://reports.example.net/tlsrpt"


def _domain(tmp_path: Path, tls_rpt: str | None = f"tls_rpt:\n  rua: {RUA}\n") -> Domain:
    return load_domain(
        write_spec(tmp_path, "example.org", basic_spec(extra=tls_rpt or "")), tmp_path
    )


def _error(tmp_path: Path, rua: str) -> str:
    with pytest.raises(SpecError) as caught:
        _domain(tmp_path, f"tls_rpt:\n  rua: {rua}\n")
    (line,) = getattr(caught.value, "details", None) or [str(caught.value)]
    return str(line)


# -- spec and expansion ------------------------------------------------------------------------


def test_tls_rpt_expands_to_one_txt_at_smtp_tls(tmp_path: Path) -> None:
    records = {(r.name, r.type): r.values for r in _domain(tmp_path).records}

    assert records[("_smtp._tls", "TXT")] == (WANTED,)


def test_no_tls_rpt_means_no_record(tmp_path: Path) -> None:
    assert not [r for r in _domain(tmp_path, None).records if r.name.startswith("_smtp")]


def test_a_domain_below_its_zone_gets_the_record_below_it(tmp_path: Path) -> None:
    spec = basic_spec("lists.example.org") + f"zone: example.org\ntls_rpt:\n  rua: {RUA}\n"
    domain = load_domain(write_spec(tmp_path, "lists.example.org", spec), tmp_path)

    assert [r.name for r in domain.records if r.name.startswith("_smtp")] == ["_smtp._tls.lists"]


def test_an_idn_report_domain_is_idna_encoded(tmp_path: Path) -> None:
    domain = _domain(tmp_path, 'tls_rpt:\n  rua: ["mailto:tls@bücher.example"]\n')

    (record,) = [r for r in domain.records if r.name == "_smtp._tls"]
    assert record.values == ("v=TLSRPTv1; rua=mailto:tls@xn--bcher-kva.example",)


def test_comma_bang_and_semicolon_inside_a_uri_are_percent_encoded(tmp_path: Path) -> None:
    # RFC 8460 section 3, tlsrpt-uri: commas, exclamation points and semicolons MUST be encoded
    rua = '["mailto:tls!rpt@Example.ORG", "https://r.example.net/a,b;c?x=%2F"]'
    domain = _domain(tmp_path, f"tls_rpt:\n  rua: {rua}\n")

    (record,) = [r for r in domain.records if r.name == "_smtp._tls"]
    assert record.values == (
        "v=TLSRPTv1; rua=mailto:tls%21rpt@example.org,https://r.example.net/a%2Cb%3Bc?x=%2F",
    )


@pytest.mark.parametrize(
    ("rua", "message"),
    [
        (
            '["mailto:tls@example.org", "ftp://r.example.net/"]',
            "tls_rpt.rua[1]: 'ftp://r.example.net/': TLS-RPT reports go to mailto: or https: "
            "URIs, not ftp:",
        ),
        ('["tls@example.org"]', "tls_rpt.rua[0]: 'tls@example.org': TLS-RPT reports go to"),
        ('["mailto:nobody"]', "tls_rpt.rua[0]: 'mailto:nobody' is not a mailto: URI with a valid"),
        ('["mailto:a@b_c"]', "tls_rpt.rua[0]: 'mailto:a@b_c': 'b_c' is not a domain name"),
        ('["https:///reports"]', "tls_rpt.rua[0]: 'https:///reports' is an https: URI without a"),
        ('["https://bad host/"]', "tls_rpt.rua[0]: 'https://bad host/': a URI has no spaces"),
        ('["https://bücher.example/"]', "tls_rpt.rua[0]: 'https://bücher.example/': write the"),
        ('["https://r.example.net:99999/"]', "tls_rpt.rua[0]: 'https://r.example.net:99999/': "),
        ('["https://r.example.net/%zz"]', "tls_rpt.rua[0]: 'https://r.example.net/%zz': '%' must"),
        ("[]", "tls_rpt.rua: List should have at least 1 item"),
    ],
)
def test_a_bad_report_uri_is_one_line_naming_its_index(
    tmp_path: Path, rua: str, message: str
) -> None:
    line = _error(tmp_path, rua)

    assert line.startswith(f"{tmp_path}/zones/example.org.yaml:"), line
    assert message in line, line
    assert "\n" not in line


def test_octodns_validators_find_nothing_in_the_record(tmp_path: Path) -> None:
    # every record and value validator octoDNS has for TXT, whatever set enables it (it has no
    # TXT best-practice one: chunked-value-rfc and the generic record ones)
    rua = '["mailto:tls!rpt@example.org", "https://r.example.net/a,b;c"]'
    (record,) = [
        r for r in _domain(tmp_path, f"tls_rpt:\n  rua: {rua}\n").records if r.name == "_smtp._tls"
    ]
    data = octodns_data(record)
    available = Record.available_validators()
    txt = Record.registered_types()["TXT"]
    fqdn = f"{record.name}.example.org."

    reasons = [
        reason
        for key in ("*", "TXT")
        for validator in available["record"].get(key, [])
        for reason in validator.validate(txt, record.name, fqdn, data)
    ] + [
        reason
        for key in ("*", "TXT")
        for validator in available["value"].get(key, [])
        for reason in validator.validate(txt._value_type, data["values"], "TXT")
    ]

    assert [v.id for v in available["value"]["TXT"]]  # there is something to run
    assert reasons == []


# -- the check, given canned answers -----------------------------------------------------------


class _Answers:
    """A resolver that knows TXT answers for one name."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers

    def resolve(self, name: str, rdtype: str) -> Answer:
        assert rdtype == "TXT"
        return self.answers.get(name.rstrip("."), Answer("NXDOMAIN"))


def _txt(*values: str) -> Answer:
    return Answer("NOERROR", [f'"{v}"' for v in values], 300)


def _check(domain: Domain, answer: Answer) -> list[Finding]:
    env = CheckEnv(
        Path("."),
        HostConfig(),
        _Answers({NAME: answer}),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        datetime(2026, 12, 6, tzinfo=UTC),
    )
    return check_tls_rpt(domain, env)


def _one(findings: list[Finding]) -> Finding:
    (finding,) = findings
    assert finding.check == "tls_rpt" and finding.subject == NAME
    assert finding.status == "pass" or finding.fix, finding
    return finding


def test_the_wanted_record_passes(tmp_path: Path) -> None:
    found = _one(_check(_domain(tmp_path), _txt(WANTED, "some other text")))

    assert found.status == "pass"
    assert found.message == (
        f"{NAME}: reports to mailto:tls@example.org, https://reports.example.net/tlsrpt"
    )


@pytest.mark.parametrize(
    ("served", "message"),
    [
        (
            "v=TSLRPTv1; rua=mailto:tls@example.org",
            "'v=TSLRPTv1' is a misspelling of 'v=TLSRPTv1'",
        ),
        ("v=TLSRPTv2; rua=mailto:tls@example.org", "'v=TLSRPTv2' is a misspelling"),
        ("v=tlsrptv1; rua=mailto:tls@example.org", "the version is case-sensitive"),
        ("v=TLSRPTv1 ; rua=mailto:tls@example.org", "starting exactly 'v=TLSRPTv1;'"),
        ("v=TLSRPTv1,rua=mailto:tls@example.org", "starting exactly 'v=TLSRPTv1;'"),
        ("rua=mailto:tls@example.org; v=TLSRPTv1", "'v=TLSRPTv1' must come first"),
        ("v=TLSRPTv1", "it has no rua="),
    ],
)
def test_a_near_miss_of_the_version_is_named_with_its_fix(
    tmp_path: Path, served: str, message: str
) -> None:
    found = _one(_check(_domain(tmp_path), _txt(served)))

    assert found.status == "fail"
    assert message in found.message, found.message
    assert found.fix == "run `mailzone apply` (it publishes the record the spec wants)"


def test_a_typo_is_named_even_when_the_spec_has_no_tls_rpt(tmp_path: Path) -> None:
    found = _one(_check(_domain(tmp_path, None), _txt("v=TSLRPTv1; rua=mailto:a@example.org")))

    assert found.status == "fail" and "misspelling" in found.message
    assert found.fix == "make the record start exactly 'v=TLSRPTv1;'"


def test_two_records_fail_because_receivers_ignore_both(tmp_path: Path) -> None:
    found = _one(_check(_domain(tmp_path), _txt(WANTED, "v=TLSRPTv1; rua=mailto:x@example.org")))

    assert found.status == "fail"
    assert found.message == (
        f"2 TLS-RPT records at {NAME}: receivers ignore them all (RFC 8460 section 3)"
    )


@pytest.mark.parametrize(
    ("served", "message"),
    [
        ("v=TLSRPTv1; ruf=mailto:tls@example.org", "no rua= (where reports go)"),
        ("v=TLSRPTv1; rua=ftp://r.example.net/", "not ftp:"),
        ("v=TLSRPTv1; rua=mailto:tls!x@example.org", "write '!' inside a URI as %21"),
        ("v=TLSRPTv1; rua=mailto:tls@example.org; oops", "'oops' is not tag=value"),
    ],
)
def test_a_broken_record_fails_saying_what_is_wrong(
    tmp_path: Path, served: str, message: str
) -> None:
    found = _one(_check(_domain(tmp_path), _txt(served)))

    assert found.status == "fail" and message in found.message, found.message


def test_a_record_other_than_the_spec_wants_fails_like_drift(tmp_path: Path) -> None:
    found = _one(_check(_domain(tmp_path), _txt("v=TLSRPTv1; rua=mailto:old@example.org")))

    assert found.status == "fail"
    assert found.message == (
        f"{NAME}: rua=mailto:old@example.org, the spec wants "
        "rua=mailto:tls@example.org,https://reports.example.net/tlsrpt"
    )


def test_missing_record_fails_when_the_spec_wants_one(tmp_path: Path) -> None:
    found = _one(_check(_domain(tmp_path), Answer("NXDOMAIN")))

    assert found.status == "fail"
    assert found.message == f"no TLS-RPT record at {NAME}: receivers send no TLS failure reports"


def test_no_spec_and_no_record_is_no_finding(tmp_path: Path) -> None:
    assert _check(_domain(tmp_path, None), Answer("NXDOMAIN")) == []
    assert _check(_domain(tmp_path, None), _txt("v=spf1 -all")) == []


def test_a_record_served_without_a_spec_is_still_checked(tmp_path: Path) -> None:
    found = _one(_check(_domain(tmp_path, None), _txt("v=TLSRPTv1; rua=mailto:a@example.org")))

    assert found.status == "pass" and "not in the spec" in found.message


def test_a_lookup_error_is_not_a_pass(tmp_path: Path) -> None:
    found = _one(_check(_domain(tmp_path), Answer("", error="timeout")))

    assert found.status == "unknown"
