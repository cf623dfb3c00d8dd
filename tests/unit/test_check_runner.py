"""The check runner's partition keeps domains that share a mail host together. That several
worker processes give the same reports as one: tests/cli/test_check_workers.py."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from mailzone.check.env import CheckEnv
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
