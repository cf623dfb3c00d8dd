"""DKIM rotation lifecycle: timeline examples and invariants under random schedules."""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailzone.dkim.lifecycle import (
    PHASE_ORDER,
    Action,
    ArchiveKey,
    DeleteKey,
    GenerateKey,
    Observed,
    Policy,
    PublishRecord,
    RemoveRecord,
    RevokeRecord,
    SwitchMta,
    activation_delay,
    step,
)
from mailzone.spec.dkim_key import Algorithm, parse_public_key
from mailzone.spec.state import SelectorLifecycle, SelectorState

T0 = datetime(2026, 11, 24, 4, 26, tzinfo=UTC)
DAY = timedelta(days=1)


def _phases(sels: list[SelectorLifecycle]) -> dict[str, str]:
    return {s.selector: s.phase for s in sels}


def _seen(*names: str) -> Observed:
    return Observed(visible=dict.fromkeys(names, True))


def _old_active() -> SelectorLifecycle:
    created = T0 - 120 * DAY
    return SelectorLifecycle(
        selector="old",
        algorithm="rsa",
        phase="active",
        created=created,
        visible_since=created,
        switched=created,
        mta_done=True,
    )


def test_first_run_publishes_a_pending_selector_per_algorithm() -> None:
    policy = Policy(algorithms=("rsa", "ed25519"))

    sels, actions, due = step([], policy, T0, Observed())

    assert _phases(sels) == {"20261124r": "pending", "20261124e": "pending"}
    assert actions == [
        GenerateKey("rsa", "20261124r"),
        PublishRecord("20261124r"),
        GenerateKey("ed25519", "20261124e"),
        PublishRecord("20261124e"),
    ]
    assert due is None  # only DNS visibility can move it on


def test_default_timeline_publish_switch_revoke_forget() -> None:
    policy = Policy()
    # day 0: the active key is past rotate_every: a new selector is published
    sels, actions, _ = step([_old_active()], policy, T0, Observed())
    assert actions == [GenerateKey("rsa", "20261124r"), PublishRecord("20261124r")]
    new = "20261124r"
    # day 0, later: every nameserver serves it; the MTA waits for the delay
    sels, actions, due = step(sels, policy, T0 + timedelta(hours=2), _seen(new))
    assert actions == []
    assert due == T0 + timedelta(hours=26)
    # just before the delay is over: nothing
    sels, actions, _ = step(sels, policy, T0 + timedelta(hours=25), _seen(new))
    assert actions == []
    # day 1: switch
    day1 = T0 + timedelta(hours=26)
    sels, actions, due = step(sels, policy, day1, _seen(new))
    assert actions == [SwitchMta("rsa", new), ArchiveKey("old")]
    assert _phases(sels) == {"old": "retiring", new: "active"}
    assert due == day1 + 7 * DAY
    # day 8: revoked
    sels, actions, due = step(sels, policy, day1 + 7 * DAY, _seen(new))
    assert actions == [RevokeRecord("old")]
    assert due == day1 + 30 * DAY
    # day 31: forgotten (record removed); the key stays until DNS no longer serves it
    sels, actions, _ = step(sels, policy, day1 + 30 * DAY, _seen(new))
    assert actions == [RemoveRecord("old")]
    assert _phases(sels) == {"old": "tombstone", new: "active"}
    gone = Observed(visible={new: True}, gone={"old": True})
    sels, actions, due = step(sels, policy, day1 + 31 * DAY, gone)
    assert actions == [DeleteKey("old")]
    assert _phases(sels) == {new: "active"}
    # the next rotation is due 90 days after the new key was created
    assert due == T0 + 90 * DAY


def test_activation_waits_for_the_negative_ttl_when_it_is_longer() -> None:
    pending = SelectorLifecycle(selector="p", algorithm="rsa", phase="pending", created=T0)
    observed = Observed(visible={"p": True}, negative_ttl=2 * 86400)

    sels, _, due = step([pending], Policy(), T0, observed)
    _, actions, _ = step(sels, Policy(), T0 + 47 * timedelta(hours=1), observed)

    assert due == T0 + 2 * DAY
    assert actions == []


def test_lost_visibility_restarts_the_delay() -> None:
    policy = Policy()
    sels, _, _ = step(
        [SelectorLifecycle(selector="p", algorithm="rsa", phase="pending", created=T0)],
        policy,
        T0,
        _seen("p"),
    )
    sels, _, _ = step(sels, policy, T0 + 12 * timedelta(hours=1), Observed())
    sels, actions, due = step(sels, policy, T0 + DAY, _seen("p"))

    assert actions == []
    assert due == T0 + 2 * DAY


def test_retire_remove_deletes_the_record_instead_of_revoking() -> None:
    policy = Policy(retire="remove")
    retiring = SelectorLifecycle(
        selector="old",
        algorithm="rsa",
        phase="retiring",
        created=T0 - 100 * DAY,
        switched=T0,
        mta_done=True,
    )

    sels, actions, _ = step([retiring], policy, T0 + 7 * DAY, Observed())

    assert actions[:1] == [RemoveRecord("old")]
    assert _phases(sels)["old"] == "tombstone"


def test_emergency_switches_as_soon_as_visible_and_revokes_the_old_key() -> None:
    policy = Policy()
    young = SelectorLifecycle(
        selector="young",
        algorithm="rsa",
        phase="active",
        created=T0 - 3 * DAY,
        visible_since=T0 - 3 * DAY,
        switched=T0 - 2 * DAY,
        mta_done=True,
    )

    sels, actions, _ = step([young], policy, T0, Observed(), emergency=True)
    assert actions == [GenerateKey("rsa", "20261124r"), PublishRecord("20261124r")]
    # the operator does not have to repeat the flag: the pending selector remembers it
    later = T0 + timedelta(minutes=10)
    sels, actions, _ = step(sels, policy, later, _seen("20261124r"))

    assert actions == [SwitchMta("rsa", "20261124r"), ArchiveKey("young"), RevokeRecord("young")]
    assert _phases(sels) == {"young": "revoked", "20261124r": "active"}


def test_emergency_twice_on_one_day_gets_a_distinct_selector() -> None:
    policy = Policy()
    sels, _, _ = step([], policy, T0, _seen("20261124r"), emergency=True)
    sels, _, _ = step(sels, policy, T0 + timedelta(hours=1), Observed(), emergency=True)

    assert _phases(sels) == {"20261124r": "active", "20261124ra": "pending"}


def test_emergency_replaces_a_pending_key_made_on_the_compromised_host() -> None:
    policy = Policy()
    pending = SelectorLifecycle(
        selector="20261120r", algorithm="rsa", phase="pending", created=T0 - 4 * DAY
    )

    sels, actions, _ = step([_old_active(), pending], policy, T0, Observed(), emergency=True)

    assert actions == [
        RemoveRecord("20261120r"),
        GenerateKey("rsa", "20261124r"),
        PublishRecord("20261124r"),
    ]
    assert _phases(sels) == {"old": "active", "20261120r": "tombstone", "20261124r": "pending"}
    assert next(s for s in sels if s.selector == "20261124r").urgent


def test_emergency_switch_revokes_a_still_retiring_key_too() -> None:
    policy = Policy()
    retiring = SelectorLifecycle(
        selector="older",
        algorithm="rsa",
        phase="retiring",
        created=T0 - 200 * DAY,
        switched=T0 - 2 * DAY,
        mta_done=True,
    )
    urgent = SelectorLifecycle(
        selector="20261124r", algorithm="rsa", phase="pending", created=T0, urgent=True
    )

    sels, actions, _ = step([retiring, _old_active(), urgent], policy, T0, _seen("20261124r"))

    assert RevokeRecord("older") in actions and RevokeRecord("old") in actions
    assert _phases(sels) == {"older": "revoked", "old": "revoked", "20261124r": "active"}


def test_the_old_key_is_not_revoked_while_the_mta_switch_is_incomplete() -> None:
    policy = Policy()
    retiring = SelectorLifecycle(
        selector="old",
        algorithm="rsa",
        phase="retiring",
        created=T0 - 100 * DAY,
        switched=T0 - 8 * DAY,
        mta_done=True,
    )
    active = SelectorLifecycle(
        selector="new",
        algorithm="rsa",
        phase="active",
        created=T0 - 9 * DAY,
        visible_since=T0 - 9 * DAY,
        switched=T0 - 8 * DAY,
        mta_done=False,
    )

    sels, actions, _ = step([retiring, active], policy, T0, Observed())
    assert actions == []  # a reload keeps failing: mail is still signed with "old"
    done = [s if s.selector == "old" else s.model_copy(update={"mta_done": True}) for s in sels]
    _, actions, _ = step(done, policy, T0, Observed())
    assert actions == [RevokeRecord("old")]


def test_an_algorithm_taken_out_of_the_spec_retires_its_keys() -> None:
    policy = Policy(algorithms=("rsa",))
    ed_active = SelectorLifecycle(
        selector="e1",
        algorithm="ed25519",
        phase="active",
        created=T0 - 10 * DAY,
        visible_since=T0 - 10 * DAY,
        switched=T0 - 9 * DAY,
        mta_done=True,
    )
    ed_pending = SelectorLifecycle(
        selector="e2", algorithm="ed25519", phase="pending", created=T0 - DAY
    )
    rsa = _old_active()

    sels, actions, _ = step(
        [rsa, ed_active, ed_pending],
        Policy(algorithms=("rsa",), rotate_every=200 * DAY, max_age=200 * DAY),
        T0,
        Observed(),
    )

    assert ArchiveKey("e1") in actions and RemoveRecord("e2") in actions
    assert _phases(sels) == {"old": "active", "e1": "retiring", "e2": "tombstone"}
    assert policy.algorithms == ("rsa",)


def test_step_moves_a_state_entry_on_with_its_key() -> None:
    key = parse_public_key(base64.b64encode(bytes(range(32))).decode())
    created = T0 - 120 * DAY
    entry = SelectorState.of_key(
        "old", key, "active", created, changed=created, visible_since=created, switched=created
    )

    sels, _, _ = step([entry], Policy(algorithms=("ed25519",)), T0, Observed())

    old = next(s for s in sels if s.selector == "old")
    new = next(s for s in sels if s.selector != "old")
    assert isinstance(old, SelectorState) and old.public_key == key.p
    assert type(new) is SelectorLifecycle  # the caller completes it with the key it makes


def test_state_files_keep_their_field_order() -> None:
    key = parse_public_key(base64.b64encode(bytes(range(32))).decode())
    entry = SelectorState.of_key("s", key, "active", T0, changed=T0, switched=T0)

    assert list(entry.model_dump(mode="json")) == [
        "selector",
        "algorithm",
        "bits",
        "public_key",
        "fingerprint",
        "phase",
        "created",
        "changed",
        "visible_since",
        "switched",
        "revoked",
        "mta_done",
        "urgent",
    ]


# --- property tests: random schedules, observations and crashes ----------------------------


@dataclass
class World:
    """What the actions did outside the state: DNS records, private keys, MTA configuration."""

    dns: dict[str, str] = field(default_factory=dict)  # selector → "key" | "revoked"
    keys: set[str] = field(default_factory=set)
    mta: dict[Algorithm, str] = field(default_factory=dict)

    def apply(self, action: Action, observed: Observed) -> None:
        match action:
            case GenerateKey(selector=s):
                self.keys.add(s)
            case PublishRecord(selector=s):
                self.dns[s] = "key"
            case SwitchMta(algorithm=a, selector=s):
                assert observed.visible.get(s), f"MTA switched to {s}, which DNS does not serve"
                self.mta[a] = s
            case RevokeRecord(selector=s):
                self.dns[s] = "revoked"
            case RemoveRecord(selector=s):
                self.dns.pop(s, None)
            case DeleteKey(selector=s):
                assert observed.gone.get(s), f"key of {s} deleted while DNS may serve it"
                self.keys.discard(s)
            case ArchiveKey():
                pass

    def sync(self, sels: list[SelectorLifecycle]) -> None:
        """What the next run and `mailzone apply` repair: DNS and the MTA are made to match the
        committed state (a run that crashed after saving it left them behind)."""
        for algorithm in ("rsa", "ed25519"):
            active = [s.selector for s in sels if s.algorithm == algorithm and s.phase == "active"]
            if active:
                self.mta[algorithm] = active[0]
            else:
                self.mta.pop(algorithm, None)
        for sel in sels:
            if sel.phase in ("pending", "active", "retiring"):
                self.dns[sel.selector] = "key"
            elif sel.phase == "revoked":
                self.dns[sel.selector] = "revoked"
            else:
                self.dns.pop(sel.selector, None)

    def observe(
        self, sels: list[SelectorLifecycle], rng: random.Random, ttl: int, truthful: bool = False
    ) -> Observed:
        """Propagation is random: a published key may not be on every nameserver yet."""
        published = {s for s, v in self.dns.items() if v == "key"}
        visible = {s: truthful or rng.random() < 0.7 for s in published}
        asked = self.keys | {s.selector for s in sels}  # a crash may have deleted a key already
        gone = {s: truthful or rng.random() < 0.7 for s in asked if s not in self.dns}
        return Observed(visible=visible, gone=gone, negative_ttl=ttl, record_ttl=300)

    def check(self) -> None:
        for algorithm, selector in self.mta.items():
            assert self.dns.get(selector) == "key", f"{algorithm} signs with unserved {selector}"
            assert selector in self.keys


@dataclass
class Checker:
    """Invariants over committed states, independent of how `step` computes them."""

    policy: Policy
    last_phase: dict[str, int] = field(default_factory=dict)
    forgotten: set[str] = field(default_factory=set)
    visible_from: dict[str, datetime] = field(default_factory=dict)

    def switches(
        self,
        before: list[SelectorLifecycle],
        actions: list[Action],
        now: datetime,
        obs: Observed,
        emergency: bool,
    ) -> None:
        urgent = {s.selector for s in before if s.urgent}
        for action in actions:
            if self.policy.retire == "remove":
                assert not isinstance(action, RevokeRecord), "retire='remove' never revokes"
            if isinstance(action, SwitchMta):
                assert obs.visible.get(action.selector)
                if action.selector in urgent or emergency:
                    continue
                since = self.visible_from.get(action.selector, now)
                assert since + activation_delay(self.policy, obs) <= now, (
                    "switched before the delay"
                )

    def commit(self, sels: list[SelectorLifecycle], now: datetime, obs: Observed) -> None:
        for algorithm in ("rsa", "ed25519"):
            active = [s for s in sels if s.algorithm == algorithm and s.phase == "active"]
            assert len(active) <= 1
        names = {s.selector for s in sels}
        assert len(names) == len(sels)
        assert not names & self.forgotten, "a forgotten selector came back"
        for name in set(self.last_phase) - names:
            self.forgotten.add(name)
            del self.last_phase[name]
        for s in sels:
            order = PHASE_ORDER[s.phase]
            assert order >= self.last_phase.get(s.selector, 0), f"{s.selector} moved backwards"
            self.last_phase[s.selector] = order
            if s.phase == "pending" and obs.visible.get(s.selector):
                self.visible_from.setdefault(s.selector, now)
            elif s.phase == "pending":
                self.visible_from.pop(s.selector, None)


PRE_SAVE = (GenerateKey, DeleteKey)  # done by `mailzone rotate` before it saves the state
Run = tuple[int, int | None, int, bool]  # gap in hours, crash point, observation seed, emergency
runs = st.lists(
    st.tuples(
        st.integers(1, 24 * 20),
        st.none() | st.integers(0, 5),
        st.integers(0, 2**32 - 1),
        st.integers(0, 40).map(lambda n: n == 0),
    ),
    min_size=1,
    max_size=120,
)


def _run(
    sels: list[SelectorLifecycle],
    policy: Policy,
    now: datetime,
    obs: Observed,
    world: World,
    checker: Checker,
    crash: int | None = None,
    emergency: bool = False,
) -> list[SelectorLifecycle]:
    new, actions, due = step(sels, policy, now, obs, emergency=emergency)
    checker.switches(sels, actions, now, obs, emergency)
    # as `mailzone rotate` orders them: keys are made and deleted, the state is saved, then the
    # MTA is switched and DNS applied; a crash can stop the run between any two of these
    pre = [a for a in actions if isinstance(a, PRE_SAVE)]
    post = [a for a in actions if not isinstance(a, PRE_SAVE)]
    stop = len(pre) + 1 + len(post) if crash is None else crash
    for action in pre[:stop]:
        world.apply(action, obs)
        world.check()
    if stop <= len(pre):  # crashed before saving: the actions done stay done
        return sels
    checker.commit(new, now, obs)
    for action in post[: stop - len(pre) - 1]:  # the rest is redone by the next run
        world.apply(action, obs)
        world.check()
    again, repeated, due_again = step(new, policy, now, obs, emergency=emergency)
    assert (again, repeated, due_again) == (new, [], due), "a second run changed something"
    if due is not None:
        assert due > now
        _, early, _ = step(new, policy, now + (due - now) / 2, obs)
        assert early == [], "something happened before next_due"
    return new


@settings(max_examples=150, deadline=None)
@example(  # an emergency after a run that crashed between switching the MTA and saving the state
    schedule=[(1, None, 0, False), (1, None, 1, False), (24, 1, 1, True), (1, None, 0, True)],
    retire="revoke",
    algorithms=("rsa",),
    ttl=300,
)
@given(
    schedule=runs,
    retire=st.sampled_from(["revoke", "remove"]),
    algorithms=st.sampled_from([("rsa",), ("rsa", "ed25519")]),
    ttl=st.sampled_from([300, 3600, 3 * 86400]),
)
def test_rotation_invariants_under_random_schedules_and_crashes(
    schedule: list[Run], retire: str, algorithms: tuple[Algorithm, ...], ttl: int
) -> None:
    policy = Policy(retire="remove" if retire == "remove" else "revoke", algorithms=algorithms)
    world, checker = World(), Checker(policy)
    sels: list[SelectorLifecycle] = []
    now = T0
    for gap, crash, seed, emergency in schedule:
        now += timedelta(hours=gap)
        world.sync(sels)
        obs = world.observe(sels, random.Random(seed), ttl)
        sels = _run(sels, policy, now, obs, world, checker, crash, emergency)

    # then everything propagates and the runs stop crashing: the rotation converges
    interval = timedelta(hours=6)
    settle_start = now
    for _ in range(4 * 45):
        now += interval
        world.sync(sels)
        sels = _run(
            sels, policy, now, world.observe(sels, random.Random(0), ttl, True), world, checker
        )

    linger = policy.revoke_after if policy.retire == "remove" else policy.forget_after
    for algorithm in algorithms:
        track = [s for s in sels if s.algorithm == algorithm]
        active = [s for s in track if s.phase == "active"]
        assert len(active) == 1
        assert world.mta[algorithm] == active[0].selector
        delay = activation_delay(policy, world.observe(sels, random.Random(0), ttl, True))
        for s in track:
            if s.phase == "pending":
                assert now - max(s.created, settle_start) <= delay + interval
            elif s.phase != "active":  # nothing lingers past its schedule and two runs
                assert s.switched is not None
                assert now - s.switched <= linger + 2 * interval, f"{s.selector} lingers"
