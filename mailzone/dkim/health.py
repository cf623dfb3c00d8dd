"""`mailzone keys health`: is key rotation still moving? From the specs and states alone (no DNS,
no private key), so that a CI job far from the mail host can ring the alarm when the host's
`mailzone rotate` timer has stopped.

For each algorithm a domain rotates: a pending selector created longer ago than its expected
wait (`activate_delay` plus `STALL_SLACK`, for CI to apply it and the timer to switch to it) has
stalled; with no pending selector, an active one older than `max_age` is overdue (rotation
starts a new selector at `rotate_every`, which is at most `max_age`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from mailzone.dkim.rotate import policy_of
from mailzone.repo.project import Domain
from mailzone.spec.duration import format_duration
from mailzone.spec.state import SelectorState

STALL_SLACK = timedelta(days=2)  # CI applying the new selector, hourly timer runs, a weekend


@dataclass(frozen=True)
class RotationProblem:
    """A key that should have moved on by now."""

    domain: str
    selector: str
    kind: Literal["overdue", "stalled"]
    created: datetime
    age: timedelta
    limit: timedelta  # max_age (overdue), activate_delay + STALL_SLACK (stalled)
    visible_since: datetime | None = None

    @property
    def message(self) -> str:
        """One line naming the domain, the key, its date and what has stopped."""
        made = f"{self.created:%Y-%m-%d}"
        days = self.age.days
        if self.kind == "overdue":
            return (
                f"{self.domain}: active key {self.selector} is {days} days old (created {made}), "
                f"max_age {_span(self.limit)}: the mail host's rotation timer is not running"
            )
        why = (
            f"every nameserver serves it since {self.visible_since:%Y-%m-%d}: the mail host's "
            "rotation timer is not running"
            if self.visible_since
            else "no nameserver served it at the last rotate run: has CI applied it, and is the "
            "mail host's rotation timer running?"
        )
        return (
            f"{self.domain}: pending key {self.selector} was created {made}, {days} days ago, and "
            f"no mail is signed with it yet (expected within {_span(self.limit)}): {why}"
        )


def rotation_problems(domains: Sequence[Domain], now: datetime) -> list[RotationProblem]:
    """Every stalled or overdue key of the domains that rotate, in domain order."""
    problems: list[RotationProblem] = []
    for domain in domains:
        policy = policy_of(domain.spec.dkim)
        for algorithm in policy.algorithms:
            track = [s for s in domain.state.selectors if s.algorithm == algorithm]
            pending = next((s for s in track if s.phase == "pending"), None)
            active = next((s for s in track if s.phase == "active"), None)
            if pending is not None:
                wait = policy.activate_delay + STALL_SLACK
                if now - pending.created > wait:
                    problems.append(_problem(domain, pending, "stalled", now, wait))
            elif active is not None and now - active.created > policy.max_age:
                problems.append(_problem(domain, active, "overdue", now, policy.max_age))
    return problems


def rotating(domains: Sequence[Domain]) -> list[Domain]:
    """The domains whose spec has mailzone rotate keys (`dkim.algorithms` not empty)."""
    return [d for d in domains if d.spec.dkim.algorithms]


def _problem(
    domain: Domain,
    sel: SelectorState,
    kind: Literal["overdue", "stalled"],
    now: datetime,
    limit: timedelta,
) -> RotationProblem:
    return RotationProblem(
        domain.name, sel.selector, kind, sel.created, now - sel.created, limit, sel.visible_since
    )


def _span(value: timedelta) -> str:
    """`180 days`, or `1d12h` for a span of days and hours."""
    if value % timedelta(days=1):
        return format_duration(value)
    return f"{value.days} day{'s' if value.days != 1 else ''}"
