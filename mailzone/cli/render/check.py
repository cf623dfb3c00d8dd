"""How check results are shown: a table per domain with a fix under each problem, a summary
line per domain, or JSON."""

from __future__ import annotations

import json
from typing import Any, TextIO

from mailzone.check.model import DomainReport

MARK = {"pass": "ok  ", "warn": "WARN", "fail": "FAIL", "unknown": "??  "}


def print_text(reports: list[DomainReport], out: TextIO, problems_only: bool = False) -> None:
    """Per domain: one line per finding (problems with their fix), then the summary line."""
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
        out.write(report.summary() + "\n")


def to_json(reports: list[DomainReport]) -> dict[str, Any]:
    """Everything, for machines."""
    return {
        "failed": any(r.failed for r in reports),
        "domains": [
            {
                "domain": r.domain,
                "counts": r.counts(),
                "error": r.error,
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


def print_json(reports: list[DomainReport], out: TextIO) -> None:
    """`to_json` on one indented document."""
    out.write(json.dumps(to_json(reports), indent=2) + "\n")
