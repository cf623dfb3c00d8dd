"""The check runner's partition keeps domains that share a mail host together, and its batches
run one after another unless they wait on the network. That several worker processes give the
same reports as one: tests/cli/test_check_workers.py; that asking ahead changes no finding:
tests/integration/test_check_dns.py."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mailzone.check import runner
from mailzone.check.env import CheckEnv
from mailzone.check.model import DomainReport
from mailzone.check.runner import partition
from mailzone.repo.project import load_project
from mailzone.repo.scaffold import scaffold
from mailzone.spec.host import HostConfig


def test_partition_keeps_shared_hosts_together(tmp_path: Path) -> None:
    for i in range(9):
        ip = f"192.0.2.{10 + i % 3}"  # three mail hosts' addresses shared by the domains
        scaffold(tmp_path, f"d{i}.example", f"mail.d{i}.example", [ip], [])  # as `init` writes
    domains = list(load_project(tmp_path).domains.values())

    parts = partition(domains, 2)

    assert sorted(i for part in parts for i in part) == list(range(9))
    for part in parts:
        addresses = {domains[i].spec.hosts[0].ipv4[0] for i in part}
        others = {domains[i].spec.hosts[0].ipv4[0] for p in parts if p is not part for i in p}
        assert not addresses & others


def test_once_asks_a_server_once_for_every_thread_and_a_copy_starts_afresh() -> None:
    env = CheckEnv(
        Path("."),
        HostConfig(),
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        datetime(2026, 12, 6, tzinfo=UTC),
    )
    calls: list[str] = []

    def probe() -> str:
        calls.append("mx")
        time.sleep(0.05)  # the other threads arrive while it runs
        return "ok"

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: env.once("starttls mx", probe), range(8)))

    assert results == ["ok"] * 8 and calls == ["mx"]
    assert env.once("starttls other", lambda: "other") == "other"
    assert dataclasses.replace(env).once("starttls mx", lambda: "again") == "again"


def _run_fake_domains(
    monkeypatch: pytest.MonkeyPatch, jobs: int, work: Callable[[], None]
) -> tuple[list[str], list[list[str]], dict[str, int]]:
    """`_in_threads` over 30 stand-in domains whose check calls `work`: the reports' order,
    the batches asked ahead, and the thread each domain was checked on."""
    threads: dict[str, int] = {}
    batches: list[list[str]] = []

    def check_domain(domain: Any, env: Any, pool: Any = None) -> DomainReport:
        work()
        threads[domain.name] = threading.get_ident()
        return DomainReport(domain.name)

    monkeypatch.setattr(runner, "check_domain", check_domain)
    monkeypatch.setattr(
        runner, "ask_ahead", lambda part, env: batches.append([d.name for d in part])
    )
    monkeypatch.setattr(runner, "AHEAD", 8)
    domains = [SimpleNamespace(name=f"d{i:02}.example") for i in range(30)]

    reports = runner._in_threads(domains, SimpleNamespace(), jobs, None)  # type: ignore[arg-type]

    return [r.domain for r in reports], batches, threads


def test_domains_that_only_compute_are_checked_one_after_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With their answers asked ahead, checks wait for nothing: threads would only add work."""

    def compute() -> None:
        end = time.thread_time() + 0.002
        while time.thread_time() < end:
            pass

    order, batches, threads = _run_fake_domains(monkeypatch, 8, compute)

    names = [f"d{i:02}.example" for i in range(30)]
    assert order == names
    assert batches == [names[1:9], names[9:17], names[17:25], names[25:30]]
    assert set(threads.values()) == {threading.get_ident()}


def test_domains_that_wait_on_the_network_go_to_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch that waits (slow servers, SMTP probes) more than `WAITING` seconds and twice its
    CPU time hands its rest, and every later batch, to `jobs` threads; with `jobs` 1, never."""
    order, _, threads = _run_fake_domains(monkeypatch, 4, lambda: time.sleep(0.02))

    assert order == [f"d{i:02}.example" for i in range(30)]
    main = threading.get_ident()
    on_main = [name for name, ident in sorted(threads.items()) if ident == main]
    assert on_main == [f"d{i:02}.example" for i in range(4)]  # the first, then 0.06 s waited
    assert len(set(threads.values())) > 2

    _, _, alone = _run_fake_domains(monkeypatch, 1, lambda: time.sleep(0.005))
    assert set(alone.values()) == {main}
