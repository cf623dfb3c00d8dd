"""The check runner: several worker processes give the same reports as one, on a repository
made by the real CLI (`init`, `apply`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mailzone.check.env import CheckEnv
from mailzone.check.families import NAMES as FAMILIES
from mailzone.check.runner import check_all
from mailzone.dns.query import Dns
from mailzone.octo.authority import Authorities
from mailzone.repo.project import load_project
from mailzone.spec.host import load_host_config
from tests.cli import mailzone


def _repo(root: Path, count: int) -> None:
    for i in range(count):
        ip = f"192.0.2.{10 + i % 3}"  # three mail hosts' addresses shared by the domains
        run = mailzone(
            root, "init", f"d{i}.example", "--mail-host", f"mail.d{i}.example", "--ipv4", ip
        )
        assert run.returncode == 0, run.stderr
    assert mailzone(root, "apply", "--yes").returncode == 0


def test_processes_give_the_same_reports_as_one(tmp_path: Path) -> None:
    _repo(tmp_path, 6)
    project = load_project(tmp_path)
    domains = [project.domains[n] for n in sorted(project.domains)]

    def env() -> CheckEnv:
        host = load_host_config(None, tmp_path)
        dns = Dns(("127.0.0.1", 9), timeout=0.1, retries=0)  # only drift runs: it reads zone files
        return CheckEnv(
            tmp_path,
            host,
            dns,
            Authorities(tmp_path, host, dns),
            datetime.now(UTC),
            skip=frozenset(f for f in FAMILIES if f != "drift"),
        )

    one = check_all(domains, env(), processes=1)
    two = check_all(domains, env(), processes=2)

    assert [r.domain for r in two] == [d.name for d in domains]
    assert [r.findings for r in two] == [r.findings for r in one]
    assert all(f.status == "pass" for r in two for f in r.findings)
    assert sum(len(r.findings) for r in two) >= 6 * 7
