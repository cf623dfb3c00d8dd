"""TLS-RPT (RFC 8460): exactly one record starting `v=TLSRPTv1;` at `_smtp._tls.<domain>`, a
`rua=` of valid report URIs, and the one the spec wants. A domain whose spec has no `tls_rpt`
and that serves none gets no finding: receivers do not need it."""

from __future__ import annotations

import difflib
import re

from mailzone.check.env import CheckEnv, Question, lookup_failed
from mailzone.check.model import Finding
from mailzone.dns.query import txt_values
from mailzone.records.tls_rpt import VERSION, record_uri
from mailzone.repo.project import Domain
from mailzone.spec.types import check_tlsrpt_uri

APPLY = "run `mailzone apply` (it publishes the record the spec wants)"
_VERSION_FIELD = re.compile(r"\s*v\s*=\s*([^;,\s]*)", re.I)


def ahead_tls_rpt(domain: Domain, env: CheckEnv) -> list[Question]:
    """The record at `_smtp._tls.<domain>`."""
    return [(None, f"_smtp._tls.{domain.name}", "TXT")]


def check_tls_rpt(domain: Domain, env: CheckEnv) -> list[Finding]:
    """The record at `_smtp._tls.<domain>` against RFC 8460 and the spec."""
    name = f"_smtp._tls.{domain.name}"
    want = domain.spec.tls_rpt
    answer = env.txt(name)
    if answer.error is not None:
        return [lookup_failed("tls_rpt", name, f"TXT {name}", answer)]
    values = txt_values(answer)
    records = [v for v in values if v.startswith(f"{VERSION};")]
    fix = APPLY if want else f"make the record start exactly '{VERSION};'"
    findings = [
        Finding("tls_rpt", name, "fail", f"{name}: '{v[:40]}' {why}", fix)
        for v in values
        if v not in records and (why := near_miss(v))
    ]
    if not records:
        if want is not None and not findings:
            findings.append(
                Finding(
                    "tls_rpt",
                    name,
                    "fail",
                    f"no TLS-RPT record at {name}: receivers send no TLS failure reports",
                    APPLY,
                )
            )
        return findings
    if len(records) > 1:
        return [
            *findings,
            Finding(
                "tls_rpt",
                name,
                "fail",
                f"{len(records)} TLS-RPT records at {name}: receivers ignore them all "
                "(RFC 8460 section 3)",
                APPLY if want else "delete all but one",
            ),
        ]
    uris, problems = parse_rua(records[0])
    if want is not None and not problems:
        wanted = [record_uri(uri) for uri in want.rua]
        if sorted(uris) != sorted(wanted):
            problems.append(f"rua={','.join(uris)}, the spec wants rua={','.join(wanted)}")
    if problems:
        fix = APPLY if want else "fix the record's rua= (or declare tls_rpt: in the spec and apply)"
        return [*findings, Finding("tls_rpt", name, "fail", f"{name}: " + "; ".join(problems), fix)]
    unmanaged = "" if want else " (not in the spec: add tls_rpt: to manage it)"
    message = f"{name}: reports to {', '.join(uris)}{unmanaged}"
    return [*findings, Finding("tls_rpt", name, "pass", message)]


def near_miss(value: str) -> str | None:
    """Why a value that does not start `v=TLSRPTv1;` looks meant to be TLS-RPT, or None."""
    found = _VERSION_FIELD.match(value)
    if found is None:
        if VERSION.lower() in value.lower():
            return f"is ignored: '{VERSION}' must come first"
        return None
    version = found.group(1)
    meant = VERSION.removeprefix("v=")
    if version == meant:
        if value.strip() == VERSION:
            return "is ignored: it has no rua= (where reports go)"
        return f"is ignored: receivers read only records starting exactly '{VERSION};'"
    if version.lower() == meant.lower():
        return f"is ignored: the version is case-sensitive, write '{VERSION}'"
    if difflib.SequenceMatcher(None, version.lower(), meant.lower()).ratio() >= 0.75:
        return f"is ignored: 'v={version}' is a misspelling of '{VERSION}'"
    return None


def parse_rua(record: str) -> tuple[list[str], list[str]]:
    """The `rua=` URIs of a `v=TLSRPTv1;` record, and what is wrong with it. Other fields are
    extensions, ignored as RFC 8460 section 3 says; several `rua=` fields add up."""
    uris: list[str] = []
    problems: list[str] = []
    for field in (f.strip() for f in record.split(";")[1:]):
        tag, eq, value = field.partition("=")
        if not field:
            continue
        if not eq:
            problems.append(f"'{field}' is not tag=value")
        elif tag.strip() == "rua":
            uris += [uri.strip() for uri in value.split(",")]
    if not uris:
        problems.append("no rua= (where reports go): receivers send no reports")
    for uri in uris:
        if "!" in uri:
            problems.append(f"'{uri}': write '!' inside a URI as %21 (RFC 8460 section 3)")
            continue
        try:
            check_tlsrpt_uri(uri)
        except ValueError as err:
            problems.append(str(err))
    return uris, problems
