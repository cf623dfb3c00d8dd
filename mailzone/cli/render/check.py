"""How check results are shown: a table per domain with a fix under each problem, a summary
line per domain, or JSON."""

from __future__ import annotations

from typing import Any, TextIO

from mailzone.check.model import DomainReport
from mailzone.check.verdict import unchecked_text
from mailzone.repo.results import SCHEMA_VERSIONS
from mailzone.util.jsontext import dumps_indented

Unchecked = dict[str, dict[str, list[str]]]  # domain → family → why it could not be checked

MARK = {"pass": "ok  ", "warn": "WARN", "fail": "FAIL", "unknown": "??  "}


def print_text(
    reports: list[DomainReport],
    out: TextIO,
    problems_only: bool = False,
    unchecked: Unchecked | None = None,
) -> None:
    """Per domain: one line per finding (problems with their fix), then the summary line, which
    ends with the families that could not be checked and why (`verdict.unchecked`)."""
    unchecked = unchecked or {}
    for report in reports:
        out.write(f"== {report.domain}\n")
        shown = [f for f in report.findings if not (problems_only and f.status == "pass")]
        width = max((len(f.check) for f in shown), default=0)
        for finding in shown:
            out.write(f"{MARK[finding.status]}  {finding.check.ljust(width)}  {finding.message}\n")
            if finding.status != "pass" and finding.fix:
                out.write(f"      {' ' * width}  fix: {finding.fix}\n")
        if report.error:
            out.write(f"error: {report.error}\n")
        summary = report.summary()
        if report.domain in unchecked:
            summary += f"; not checked: {unchecked_text(unchecked[report.domain])}"
        out.write(summary + "\n")


def to_json(
    reports: list[DomainReport], unchecked: Unchecked | None = None, exit_code: int = 0
) -> dict[str, Any]:
    """Everything, for machines (docs/json.md); `unchecked` per domain: family → why it could
    not be checked; `exit_code`: the one check returns."""
    unchecked = unchecked or {}
    return {
        "schema_version": SCHEMA_VERSIONS["check"],
        "exit_code": exit_code,
        "failed": any(r.failed for r in reports),
        "inconclusive": bool(unchecked),
        "domains": [
            {
                "domain": r.domain,
                "counts": r.counts(),
                "error": r.error,
                "unchecked": unchecked.get(r.domain, {}),
                "findings": [
                    {
                        "check": f.check,
                        "subject": f.subject,
                        "status": f.status,
                        "message": f.message,
                        "fix": f.fix or None,
                    }
                    for f in r.findings
                ],
            }
            for r in reports
        ],
    }


def print_json(
    reports: list[DomainReport], out: TextIO, unchecked: Unchecked | None, exit_code: int
) -> None:
    """`to_json` on one indented document."""
    out.write(dumps_indented(to_json(reports, unchecked, exit_code)) + "\n")
