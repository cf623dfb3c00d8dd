"""The run's verdict: failed, inconclusive (a family that had to be checked could not be), or
passed; and, per domain, which families could not be checked and why.

A `dns` family (`families.Family.reach`) with an `unknown` finding makes the run inconclusive
unless `allow` names it; a `network` family only when `require` names it. Pure: findings in,
verdict out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mailzone.check.families import FAMILIES
from mailzone.check.model import DomainReport, Finding
from mailzone.errors import EXIT_CHECK_FAILED, EXIT_ERROR, EXIT_INCONCLUSIVE, EXIT_OK

ALL = "all"  # --allow-unknown all / --require all

# what an unknown finding's message says about why, first match wins
_CAUSES = (
    ("no resolver", "no resolver"),
    ("no system resolver", "no resolver"),
    ("timeout", "timeout"),
    ("refused", "refused"),
    ("network error", "network error"),
)


def cause(finding: Finding) -> str:
    """Why an `unknown` finding could not tell: `no resolver`, `timeout`, `refused`,
    `network error`, or `no answer` when its message names none of these."""
    text = finding.message.lower()
    return next((why for said, why in _CAUSES if said in text), "no answer")


@dataclass(frozen=True)
class Rules:
    """Which families must be checked: every `dns` family but those in `allow`, and the
    `network` families in `require` (either may hold `all`: `allow` is about `dns` families
    only, so `--allow-unknown all --require smtp` still requires smtp)."""

    allow: frozenset[str] = frozenset()
    require: frozenset[str] = frozenset()

    def must_check(self, family: str) -> bool:
        """Whether an `unknown` finding of `family` makes the run inconclusive."""
        reach = next((f.reach for f in FAMILIES if f.name == family), "dns")
        if reach == "dns":
            return not ({family, ALL} & self.allow)
        return bool({family, ALL} & self.require)


def unchecked(report: DomainReport, rules: Rules) -> dict[str, list[str]]:
    """Family → why it could not be checked (causes in order of first appearance), for the
    families that had to be checked and have an `unknown` finding, in registry order."""
    out: dict[str, list[str]] = {}
    for finding in report.findings:
        if finding.status == "unknown" and rules.must_check(finding.check):
            causes = out.setdefault(finding.check, [])
            if cause(finding) not in causes:
                causes.append(cause(finding))
    order = {f.name: i for i, f in enumerate(FAMILIES)}
    return dict(sorted(out.items(), key=lambda item: order.get(item[0], len(order))))


def unchecked_text(families: dict[str, list[str]]) -> str:
    """`spf, dkim, mx (timeout); rdns (timeout, refused)`: families grouped by their causes."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for family, causes in families.items():
        groups.setdefault(tuple(causes), []).append(family)
    return "; ".join(f"{', '.join(names)} ({', '.join(why)})" for why, names in groups.items())


def exit_code(reports: Iterable[DomainReport], rules: Rules) -> int:
    """1 if a domain could not be checked at all, else 3 if anything failed, else 4 if a
    family that had to be checked could not be, else 0."""
    reports = list(reports)
    if any(r.error for r in reports):
        return EXIT_ERROR
    if any(r.failed for r in reports):
        return EXIT_CHECK_FAILED
    if any(unchecked(r, rules) for r in reports):
        return EXIT_INCONCLUSIVE
    return EXIT_OK


def inconclusive(reports: Sequence[DomainReport], rules: Rules) -> dict[str, dict[str, list[str]]]:
    """Domain → `unchecked` families, for the domains that have any."""
    return {r.domain: found for r in reports if (found := unchecked(r, rules))}
