"""`plan_all` with providers that send zone reads ahead (BIND, PowerDNS): the zones are planned
in order in the calling thread, each read sent `jobs` - 1 zones before its plan; a provider
that cannot send ahead, or a send that fails, leaves the zones (the rest) to threads as before.
That the plans are the same as octoDNS's: tests/integration/test_fastpath_bind.py and
test_fastpath_pdns.py, which plan through this path."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mailzone.octo import sync
from mailzone.octo.sync import ZonePlan, ZoneTask

ZONES = [f"z{i}.example" for i in range(10)]


class Sender:
    """A provider that records what it sent ahead, and fails the send of `fail_at`."""

    def __init__(self, events: list[str], fail_at: str | None = None) -> None:
        self.events = events
        self.fail_at = fail_at
        self.dropped = 0

    def send_ahead(self, zone: str) -> bool:
        if zone == self.fail_at:
            return False
        self.events.append(f"send {zone}")
        return True

    def drop_ahead(self) -> None:
        self.dropped += 1


def _plan(
    monkeypatch: pytest.MonkeyPatch,
    providers: dict[str, Any],
    names: list[str],
    fail: str = "",
) -> tuple[list[str], list[str], dict[str, int]]:
    """`plan_all` of one task per zone (provider by the zone's position in `names`; the plan of
    zone `fail` fails): the plans' zones, the events (sends and plans in order), and the
    thread of each plan."""
    events: list[str] = []
    threads: dict[str, int] = {}
    for provider in providers.values():
        if isinstance(provider, Sender):
            provider.events = events

    def plan_zone(task: ZoneTask, cache: Any, known: set[str], adopt: bool = False) -> ZonePlan:
        events.append(f"plan {task.zone}.")
        threads[task.zone] = threading.get_ident()
        plan = ZonePlan(task)
        if task.zone == fail:
            plan.error = "provider 'bind': Timeout: the server did not answer"
        return plan

    monkeypatch.setattr(sync, "plan_zone", plan_zone)
    cache = SimpleNamespace(get=lambda name: providers[name])
    tasks = [ZoneTask(zone, name, []) for zone, name in zip(ZONES, names, strict=True)]
    project = SimpleNamespace(names=set(), domains={}, root=Path("."))

    plans = sync.plan_all(project, tasks, cache, jobs=3)  # type: ignore[arg-type]

    return [p.zone for p in plans], events, threads


def test_zones_are_planned_in_this_thread_with_reads_sent_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bind = Sender([])

    zones, events, threads = _plan(monkeypatch, {"bind": bind}, ["bind"] * 10)

    assert zones == ZONES
    assert set(threads.values()) == {threading.get_ident()}
    sends = [e for e in events if e.startswith("send")]
    assert sends == [f"send {z}." for z in ZONES]  # each zone's read sent once
    for i, zone in enumerate(ZONES):  # before its plan, and at most jobs - 1 zones ahead
        planned = events.index(f"plan {zone}.")
        assert events.index(f"send {zone}.") < planned
        assert len([e for e in events[:planned] if e.startswith("send")]) == min(10, i + 3)
    assert bind.dropped == 1  # whatever was sent and not read is closed


def test_a_send_that_fails_leaves_the_rest_to_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    bind = Sender([], fail_at="z5.example.")

    zones, _, threads = _plan(monkeypatch, {"bind": bind}, ["bind"] * 10)

    assert zones == ZONES
    main = threading.get_ident()
    assert [z for z in ZONES if threads[z] == main] == ZONES[:3]  # z5 was 3 ahead of z3
    assert bind.dropped == 1


def test_a_provider_that_cannot_send_ahead_plans_in_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bind = Sender([])
    other = SimpleNamespace()  # any other octoDNS provider

    zones, events, threads = _plan(
        monkeypatch, {"bind": bind, "other": other}, ["bind"] * 9 + ["other"]
    )

    assert zones == ZONES
    assert threading.get_ident() not in threads.values()
    assert not [e for e in events if e.startswith("send")]


class Poller(Sender):
    """A provider that can take in answers early: each `poll_ahead` answers one read."""

    def __init__(self, events: list[str], fail_at: str | None = None) -> None:
        super().__init__(events, fail_at)
        self.out: list[str] = []

    def send_ahead(self, zone: str) -> bool:
        sent = super().send_ahead(zone)
        if sent:
            self.out.append(zone)
        return sent

    def poll_ahead(self) -> int:
        if self.out:
            self.events.append(f"answer {self.out.pop(0)}")
        return len(self.out)


def _loading(
    providers: dict[str, Any], names: list[str], shard: Any = None
) -> tuple[sync.EarlyReads, list[Any]]:
    reads = sync.EarlyReads(SimpleNamespace(get=lambda name: providers[name]), shard)  # type: ignore[arg-type]
    domains = [
        SimpleNamespace(zone=zone, spec=SimpleNamespace(provider=name))
        for zone, name in zip(ZONES, names, strict=True)
    ]
    return reads, domains


def test_reads_begin_while_the_specs_load_at_most_ahead_at_once() -> None:
    pdns = Poller([])
    reads, domains = _loading({"pdns": pdns}, ["pdns"] * 10)

    for domain in [*domains, domains[0]]:  # a zone loaded twice is read once
        reads.loaded(domain)
        assert len(pdns.out) <= sync.AHEAD

    sent = [e for e in pdns.events if e.startswith("send")]
    assert sent == [f"send {z}." for z in ZONES]
    answers = [e for e in pdns.events if e.startswith("answer")]
    assert answers == [f"answer {z}." for z in ZONES[: len(answers)]] and len(answers) >= 2


def test_no_read_begins_for_a_provider_that_cannot_take_answers_early() -> None:
    bind, pdns = Sender([]), Poller([])  # BIND's reads wait for the plans
    reads, domains = _loading({"bind": bind, "pdns": pdns}, ["bind", "pdns"] * 5)
    outside = SimpleNamespace(holds=lambda zone: zone != "z1.example")

    reads = sync.EarlyReads(reads._cache, outside)
    for domain in domains:
        reads.loaded(domain)

    assert bind.events == []
    sent = [e for e in pdns.events if e.startswith("send")]
    assert sent == [f"send {z}." for z in ZONES[3::2]]  # z1 is not in the shard


def test_a_zone_whose_plan_fails_leaves_the_rest_to_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A silent server makes each zone wait its timeout: in threads, those waits overlap."""
    bind = Sender([])

    zones, _, threads = _plan(monkeypatch, {"bind": bind}, ["bind"] * 10, fail="z2.example")

    assert zones == ZONES
    main = threading.get_ident()
    assert [z for z in ZONES if threads[z] == main] == ZONES[:3]
    assert bind.dropped == 1
