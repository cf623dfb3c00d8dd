"""DKIM rotation lifecycle: a pure state machine over selectors.

Time (`now`) and what DNS serves (`Observed`) are inputs; `step` never reads the clock or the
network. Each algorithm is its own track: publish a pending selector, switch the MTA once every
authoritative nameserver serves it and caches had time to expire, retire the old selector, revoke
or remove its record, and delete its private key once DNS no longer serves it. The caller saves
the new selectors only after every action succeeded, so a crash simply repeats the step.

Selectors are `SelectorLifecycle` entries (`mailzone.spec.state`): `step` reads only their
lifecycle fields and moves them on with `model_copy`, so a `SelectorState` stays one, key and
all. The selectors it starts are plain `SelectorLifecycle` entries; the caller completes them
with the key it makes for their `GenerateKey`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from mailzone.spec.dkim_key import Algorithm
from mailzone.spec.state import Phase, SelectorLifecycle

PHASE_ORDER: dict[Phase, int] = {
    "pending": 0,
    "active": 1,
    "retiring": 2,
    "revoked": 3,
    "tombstone": 4,
}


@dataclass(frozen=True)
class Policy:
    """How often to rotate and how long each phase lasts."""

    rotate_every: timedelta = timedelta(days=90)
    max_age: timedelta = timedelta(days=180)
    activate_delay: timedelta = timedelta(hours=24)
    revoke_after: timedelta = timedelta(days=7)
    forget_after: timedelta = timedelta(days=30)
    retire: Literal["revoke", "remove"] = "revoke"
    algorithms: tuple[Algorithm, ...] = ("rsa",)


@dataclass(frozen=True)
class Observed:
    """What DNS serves right now, per selector.

    `visible`: served correctly by every authoritative nameserver. `gone`: absent from every one.
    TTLs are in seconds; activation waits at least this long after visibility.
    """

    visible: Mapping[str, bool] = field(default_factory=dict)
    gone: Mapping[str, bool] = field(default_factory=dict)
    negative_ttl: int = 0
    record_ttl: int = 0


@dataclass(frozen=True)
class GenerateKey:
    """Create a private key for the new selector."""

    algorithm: Algorithm
    selector: str


@dataclass(frozen=True)
class PublishRecord:
    """Publish the selector's public key record."""

    selector: str


@dataclass(frozen=True)
class SwitchMta:
    """Make the MTA sign `algorithm` mail with this selector."""

    algorithm: Algorithm
    selector: str


@dataclass(frozen=True)
class RevokeRecord:
    """Replace the record with an empty key (`v=DKIM1; p=`)."""

    selector: str


@dataclass(frozen=True)
class RemoveRecord:
    """Delete the selector's record."""

    selector: str


@dataclass(frozen=True)
class ArchiveKey:
    """Take the private key out of the MTA's signing table (kept until `DeleteKey`)."""

    selector: str


@dataclass(frozen=True)
class DeleteKey:
    """Delete the private key for good."""

    selector: str


Action = (
    GenerateKey | PublishRecord | SwitchMta | RevokeRecord | RemoveRecord | ArchiveKey | DeleteKey
)
NameFor = Callable[[Algorithm, datetime], str]
Outcome = tuple[list[SelectorLifecycle], list[Action], list[datetime]]


def date_selector(algorithm: Algorithm, now: datetime) -> str:
    """`20261124r` for RSA, `20261124e` for Ed25519."""
    return now.strftime("%Y%m%d") + ("r" if algorithm == "rsa" else "e")


def activation_delay(policy: Policy, observed: Observed) -> timedelta:
    """How long a selector must be visible before the MTA may sign with it."""
    ttl = timedelta(seconds=max(observed.negative_ttl, observed.record_ttl, 0))
    return max(policy.activate_delay, ttl)


def step(
    sels: Sequence[SelectorLifecycle],
    policy: Policy,
    now: datetime,
    observed: Observed,
    emergency: bool = False,
    new_selector: NameFor = date_selector,
) -> tuple[list[SelectorLifecycle], list[Action], datetime | None]:
    """Advance every track as far as `now` and `observed` allow.

    Returns the new selectors (save them only after the actions succeeded, in order), the
    actions, and the earliest time a later run could do more without new observations
    (None when only DNS can unblock it). `emergency` replaces every key created before `now`:
    publish at once, switch as soon as visible, revoke the old key in the same run.
    Running twice with the same inputs gives no actions the second time.
    """
    tracks = list(dict.fromkeys([*policy.algorithms, *(s.algorithm for s in sels)]))
    result: list[SelectorLifecycle] = []
    actions: list[Action] = []
    dues: list[datetime] = []
    taken = {s.selector for s in sels}

    def fresh(alg: Algorithm, when: datetime) -> str:
        name = _fresh(new_selector(alg, when), taken)
        taken.add(name)
        return name

    for algorithm in tracks:
        track = [s for s in sels if s.algorithm == algorithm]
        while True:  # a fixpoint, so a second run has nothing left to do
            new, acts, track_dues = _pass(track, algorithm, policy, now, observed, emergency, fresh)
            actions += acts
            if new == track:
                break
            track = new
        result += track
        dues += track_dues
    return result, actions, min(dues, default=None)


def _fresh(name: str, taken: set[str]) -> str:
    """`name`, or `name` plus a letter when a selector already has it."""
    candidate, n = name, 0
    while candidate in taken:
        candidate, n = name + "abcdefghijklmnopqrstuvwxyz"[n % 26] * (n // 26 + 1), n + 1
    return candidate


def _pass(
    track: list[SelectorLifecycle],
    algorithm: Algorithm,
    policy: Policy,
    now: datetime,
    observed: Observed,
    emergency: bool,
    fresh: NameFor,
) -> Outcome:
    """One pass over a track: retire and forget, then activate, then publish."""
    kept: list[SelectorLifecycle] = []
    actions: list[Action] = []
    dues: list[datetime] = []
    # the old key stays valid until the MTA really signs with its successor (a failed reload)
    settled = all(s.mta_done for s in track if s.phase == "active")
    for sel in track:
        new, acts, due = _age_out(sel, policy, now, observed, settled)
        actions += acts
        dues += due
        if new is not None:
            kept.append(new)
    for phase_step in (_drop, _activate, _publish):
        kept, acts, due = phase_step(kept, algorithm, policy, now, observed, emergency, fresh)
        actions += acts
        dues += due
    return kept, actions, dues


def _age_out(
    sel: SelectorLifecycle, policy: Policy, now: datetime, observed: Observed, settled: bool = True
) -> tuple[SelectorLifecycle | None, list[Action], list[datetime]]:
    """Revoke, tombstone or drop a selector that no longer signs (once `settled`: the MTA
    signs with its successor)."""
    if sel.phase == "tombstone":
        if observed.gone.get(sel.selector, False):
            return None, [DeleteKey(sel.selector)], []
        return sel, [], []
    if sel.phase not in ("retiring", "revoked") or (sel.phase == "retiring" and not settled):
        return sel, [], []
    switched = sel.switched or sel.created
    forget_at = switched + policy.forget_after
    revoke_at = switched + policy.revoke_after
    remove_now = sel.phase == "retiring" and policy.retire == "remove" and now >= revoke_at
    if now >= forget_at or remove_now:
        return (
            sel.model_copy(update={"phase": "tombstone", "revoked": sel.revoked or now}),
            [RemoveRecord(sel.selector)],
            [],
        )
    if sel.phase == "retiring":
        if now >= revoke_at:
            return (
                sel.model_copy(update={"phase": "revoked", "revoked": now}),
                [RevokeRecord(sel.selector)],
                [forget_at],
            )
        return sel, [], [revoke_at]
    return sel, [], [forget_at]


def _activate(
    track: list[SelectorLifecycle],
    algorithm: Algorithm,
    policy: Policy,
    now: datetime,
    observed: Observed,
    emergency: bool,
    fresh: NameFor,
) -> Outcome:
    """Note visibility of the pending selector; switch to it once it was visible long enough."""
    pending = next((s for s in track if s.phase == "pending"), None)
    if pending is None:
        return track, [], []
    if not observed.visible.get(pending.selector, False):
        return _note_visible(track, pending, None), [], []
    seen = pending.visible_since or now
    ready = seen if pending.urgent else seen + activation_delay(policy, observed)
    if now < ready:
        return _note_visible(track, pending, seen), [], [ready]
    actions: list[Action] = [SwitchMta(algorithm, pending.selector)]
    new: list[SelectorLifecycle] = []
    for sel in track:
        if sel is pending:
            sel = sel.model_copy(
                update={"phase": "active", "visible_since": seen, "switched": now, "mta_done": True}
            )
        elif sel.phase in ("active", "retiring"):
            if sel.phase == "active":
                actions.append(ArchiveKey(sel.selector))
                sel = sel.model_copy(update={"phase": "retiring", "switched": now})
            if pending.urgent:  # compromised host: no grace period for any older key
                at_once = replace(policy, revoke_after=timedelta(0))
                revoked, acts, _ = _age_out(sel, at_once, now, observed)
                actions += acts
                sel = revoked or sel
        new.append(sel)
    return new, actions, []


def _drop(
    track: list[SelectorLifecycle],
    algorithm: Algorithm,
    policy: Policy,
    now: datetime,
    observed: Observed,
    emergency: bool,
    fresh: NameFor,
) -> Outcome:
    """An algorithm no longer in the policy: its active key retires, its pending key goes."""
    if algorithm in policy.algorithms:
        return track, [], []
    new: list[SelectorLifecycle] = []
    actions: list[Action] = []
    for sel in track:
        if sel.phase == "active":
            actions.append(ArchiveKey(sel.selector))
            sel = sel.model_copy(update={"phase": "retiring", "switched": now})
        elif sel.phase == "pending":
            actions.append(RemoveRecord(sel.selector))
            sel = sel.model_copy(update={"phase": "tombstone", "switched": now, "revoked": now})
        new.append(sel)
    return new, actions, []


def _publish(
    track: list[SelectorLifecycle],
    algorithm: Algorithm,
    policy: Policy,
    now: datetime,
    observed: Observed,
    emergency: bool,
    fresh: NameFor,
) -> Outcome:
    """Start a new selector when there is none, when the active one is due, or in an emergency."""
    if algorithm not in policy.algorithms:
        return track, [], []
    pending = next((s for s in track if s.phase == "pending"), None)
    if pending is not None:
        if not (emergency and not pending.urgent):
            return track, [], []
        # made on the compromised host too: withdraw it and start over
        gone = pending.model_copy(update={"phase": "tombstone", "switched": now, "revoked": now})
        track = _swap(track, pending, gone)
        name = fresh(algorithm, now)
        sel = SelectorLifecycle(
            selector=name,
            algorithm=algorithm,
            phase="pending",
            created=now,
            mta_done=False,
            urgent=True,
        )
        actions: list[Action] = [
            RemoveRecord(pending.selector),
            GenerateKey(algorithm, name),
            PublishRecord(name),
        ]
        return [*track, sel], actions, []
    active = next((s for s in track if s.phase == "active"), None)
    if active is not None and not (emergency and active.created < now):
        due = active.created + min(policy.rotate_every, policy.max_age)
        if now < due:
            return track, [], [due]
    name = fresh(algorithm, now)
    sel = SelectorLifecycle(
        selector=name,
        algorithm=algorithm,
        phase="pending",
        created=now,
        mta_done=False,
        urgent=emergency,
    )
    return [*track, sel], [GenerateKey(algorithm, name), PublishRecord(name)], []


def _note_visible(
    track: list[SelectorLifecycle], pending: SelectorLifecycle, since: datetime | None
) -> list[SelectorLifecycle]:
    """`track` with the pending selector visible `since` then (None: not visible now)."""
    if pending.visible_since == since:
        return track  # the same objects, so a fixpoint is seen at once
    return _swap(track, pending, pending.model_copy(update={"visible_since": since}))


def _swap(
    track: list[SelectorLifecycle], old: SelectorLifecycle, new: SelectorLifecycle
) -> list[SelectorLifecycle]:
    return [new if s is old else s for s in track]
