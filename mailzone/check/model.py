"""Findings: each named check passes, warns, fails or cannot tell, with a one-line fix."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["pass", "warn", "fail", "unknown"]
STATUSES: tuple[Status, ...] = ("pass", "warn", "fail", "unknown")


@dataclass(frozen=True)
class Finding:
    """One check's verdict on one thing (`spf`, `dkim 20261125r`, `rdns 203.0.113.25`)."""

    check: str  # the family (mailzone.check.families), as --skip names it
    subject: str  # what was looked at
    status: Status
    message: str
    fix: str = ""


@dataclass
class DomainReport:
    """Every finding for one mail domain, and an error if checking it could not even start."""

    domain: str
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None

    def counts(self) -> dict[str, int]:
        """How many findings have each status (all four keys present)."""
        seen = Counter(f.status for f in self.findings)
        return {status: seen.get(status, 0) for status in STATUSES}

    @property
    def failed(self) -> bool:
        """Whether any check failed."""
        return any(f.status == "fail" for f in self.findings)

    def summary(self) -> str:
        """`example.org: 23 pass, 1 warn, 0 fail, 1 unknown`."""
        counts = self.counts()
        return f"{self.domain}: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES)
