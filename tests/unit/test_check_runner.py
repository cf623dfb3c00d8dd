"""The check runner's partition keeps domains that share a mail host together. That several
worker processes give the same reports as one: tests/cli/test_check_workers.py."""

from __future__ import annotations

from pathlib import Path

from mailzone.check.runner import partition
from mailzone.repo.project import load_project
from mailzone.repo.scaffold import scaffold


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
