"""`mailzone ci merge` on real BIND: the JSON results of `--shard 1/2` and `--shard 2/2` runs,
merged, are the result of one run (same data, same exit code) for plan, apply and check; and
check's JSON is valid by its schema when it passes, fails and cannot decide."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailzone.repo.shard import shard_of
from tests.cli import Run, json_result, mailzone, write_provider
from tests.helpers import basic_spec, write_spec
from tests.servers import BindServer, ServerFactory

DOMAINS = ["a.test", "b.test", "c.test", "d.test", "e.test"]
ZONES = [f"{d}." for d in DOMAINS]
# what the check of a basic spec can pass on one BIND: no reverse zones, blocklists, mail servers
CHECK = ["--skip", "rdns", "--skip", "blocklist", "--skip", "smtp", "--skip", "https"]

pytestmark = [pytest.mark.integration, pytest.mark.zones(*ZONES)]


def repository(root: Path, server: BindServer, keys: bool = False) -> Path:
    """The domains on provider `bind`, whose nameserver for the drift check is `server`; with
    `keys`, made by `init` (which makes each a DKIM key), otherwise the same in every repository."""
    config = server.provider_config()
    config["mailzone"] = {"nameservers": [f"127.0.0.1:{server.port}"]}
    write_provider(root, "bind", config)
    for domain in DOMAINS:
        if not keys:
            write_spec(root, domain, basic_spec(domain, provider="bind"))
            continue
        made = mailzone(
            root,
            "init",
            domain,
            "--mail-host",
            f"mail.{domain}",
            "--ipv4",
            "192.0.2.25",
            "--provider",
            "bind",
        )
        assert made.code == 0, made.err
    return root


def merged(root: Path, kind: str, *args: str) -> tuple[Run, Run]:
    """`kind ARGS --format json` run as shards 1/2 and 2/2, merged by `ci merge`, and the run
    of the whole (after the shards: apply's whole run is on another server)."""
    files = []
    for k in (1, 2):
        shard = mailzone(root, kind, *args, "--format", "json", "--shard", f"{k}/2")
        json_result(shard, kind)
        files.append(root / f"{kind}-{k}.json")
        files[-1].write_text(shard.out)
    run = mailzone(root, "ci", "merge", kind, *map(str, files), "--format", "json")
    return run, mailzone(root, kind, *args, "--format", "json")


def test_the_domains_fall_in_both_shards() -> None:
    assert {shard_of(d, 2) for d in DOMAINS} == {1, 2}


def test_merged_plan_shards_are_the_plan_of_one_run(
    tmp_path: Path, bind_server: BindServer
) -> None:
    root = repository(tmp_path, bind_server)

    shards, whole = merged(root, "plan", "--exit-code")

    assert json_result(shards, "plan") == json_result(whole, "plan")
    assert shards.code == whole.code == 2


def without_backups(data: dict[str, Any]) -> dict[str, Any]:
    """An apply result with each backup file's path replaced by whether there is one (the
    paths name the repository and the time)."""
    for outcome in data["outcomes"]:
        outcome["backup"] = outcome["backup"] is not None
    return data


def test_merged_apply_shards_are_the_apply_of_one_run(
    tmp_path: Path, bind_factory: ServerFactory[BindServer]
) -> None:
    sharded = repository(tmp_path / "sharded", bind_factory(ZONES))
    whole = repository(tmp_path / "whole", bind_factory(ZONES))

    shards, _ = merged(sharded, "apply", "--yes")
    once = mailzone(whole, "apply", "--yes", "--format", "json")

    assert without_backups(json_result(shards, "apply")) == without_backups(
        json_result(once, "apply")
    )
    assert shards.code == once.code == 0
    assert mailzone(sharded, "plan", "--exit-code").code == 0


def test_merged_check_shards_are_the_check_of_one_run_passing_failing_and_inconclusive(
    tmp_path: Path, bind_server: BindServer
) -> None:
    root = repository(tmp_path, bind_server, keys=True)
    assert mailzone(root, "apply", "--yes").code == 0
    at = ["--nameserver", f"127.0.0.1:{bind_server.port}", *CHECK]

    passing, passing_whole = merged(root, "check", *at)
    spec = root / "zones" / "c.test.yaml"
    good = spec.read_text()
    spec.write_text(good.replace("192.0.2.25", "192.0.2.26"))  # DNS is not as wanted
    failing, failing_whole = merged(root, "check", *at)
    shards = [str(root / f"check-{k}.json") for k in (1, 2)]
    summary = mailzone(root, "ci", "merge", "check", *shards)
    spec.write_text(good)
    unknown, unknown_whole = merged(
        root, "check", "--nameserver", "127.0.0.1:9", "--timeout", "0.2", *CHECK
    )

    for shards, whole, code in (
        (passing, passing_whole, 0),
        (failing, failing_whole, 3),
        (unknown, unknown_whole, 4),
    ):
        assert json_result(shards, "check") == json_result(whole, "check")
        assert shards.code == whole.code == code, whole.out
    assert summary.code == 3
    lines = summary.out.splitlines()
    assert lines[-1] == "check: 5 domain(s), 1 failed; exit code 3"
    assert [line.split(":")[0] for line in lines if " 0 fail" not in line] == ["c.test", "check"]
