"""`--shard K/N` through the real CLI on the `local` target: the shards of a fleet together do
exactly what one run does, each run touching only its own zones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailzone.repo.shard import shard_of
from tests.cli import mailzone, plan_json
from tests.helpers import basic_spec, commit_all, git, write_spec

DOMAINS = [f"d{i}.test" for i in range(6)]
SUB = "mx.d0.test"  # a second domain in zone d0.test


def fleet(root: Path) -> Path:
    for domain in DOMAINS:
        write_spec(root, domain, basic_spec(domain))
    write_spec(root, SUB, basic_spec(SUB, extra="zone: d0.test\n"))
    return root


def zone_files(root: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((root / "build" / "zones").glob("*.zone"))}


def in_shard(k: int) -> list[str]:
    return [d for d in DOMAINS if shard_of(d, 2) == k]


def test_the_fleet_has_zones_in_both_shards() -> None:
    assert in_shard(1) and in_shard(2)


def test_apply_by_shards_writes_exactly_what_one_apply_writes(tmp_path: Path) -> None:
    whole, sharded = fleet(tmp_path / "whole"), fleet(tmp_path / "sharded")
    assert mailzone(whole, "apply", "--yes").code == 0

    planned = {k: plan_json(sharded, "--shard", f"{k}/2") for k in (1, 2)}
    for k in (1, 2):
        run = mailzone(sharded, "apply", "--yes", "--shard", f"{k}/2")
        assert run.code == 0, run.err
        assert sorted(zone_files(sharded)) == sorted(
            f"{d}.zone" for d in DOMAINS if k == 2 or d in in_shard(1)
        )

    assert {k: [z["zone"] for z in plan] for k, plan in planned.items()} == {
        1: in_shard(1),
        2: in_shard(2),
    }
    assert zone_files(sharded) == zone_files(whole)
    assert mailzone(sharded, "plan", "--exit-code").code == 0


def test_named_domains_outside_the_shard_are_left_out(tmp_path: Path) -> None:
    fleet(tmp_path)
    one, two = in_shard(1)[0], in_shard(2)[0]

    plan = plan_json(tmp_path, one, two, "--shard", "2/2")

    assert [z["zone"] for z in plan] == [two]


def test_an_empty_shard_says_so_and_succeeds(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec())
    empty = f"{3 - shard_of('example.org', 2)}/2"

    for command in ("plan", "apply"):
        run = mailzone(
            tmp_path, command, "--yes" if command == "apply" else "--exit-code", "--shard", empty
        )
        assert (run.code, run.err.strip()) == (0, f"shard {empty} holds no zone")
    assert not (tmp_path / "build" / "zones").exists()


def test_an_empty_repository_is_still_an_error_with_a_shard(tmp_path: Path) -> None:
    run = mailzone(tmp_path, "plan", "--shard", "1/2")

    assert run.code == 1
    assert "no specs in" in run.err


def test_warnings_about_removed_specs_are_only_in_their_zones_shard(tmp_path: Path) -> None:
    fleet(tmp_path)
    assert mailzone(tmp_path, "apply", "--yes").code == 0
    gone = in_shard(2)[-1]
    commit_all(tmp_path)
    git(tmp_path, "rm", "-q", f"zones/{gone}.yaml")
    git(tmp_path, "commit", "-qm", f"drop {gone}")

    runs = {k: mailzone(tmp_path, "plan", "--shard", f"{k}/2") for k in (1, 2)}

    assert f"mailzone forget {gone}" not in runs[1].out + runs[1].err
    assert f"mailzone forget {gone}" in runs[2].out


def host_without_mta(root: Path) -> Path:
    """A host config with its own key directory and no MTA to write."""
    host = root / "host.yaml"
    host.write_text(f"key_dir: {root / 'keys'}\nmta: {{kind: none}}\n")
    return host


def test_check_by_shard_checks_only_its_domains(tmp_path: Path) -> None:
    fleet(tmp_path)
    host = host_without_mta(tmp_path)

    checked = {}
    for k in (1, 2):
        run = mailzone(
            tmp_path,
            "check",
            "--shard",
            f"{k}/2",
            "--format",
            "json",
            "--host-config",
            str(host),
            "--nameserver",
            "127.0.0.1:9",
            "--timeout",
            "0.2",
            "--skip",
            "blocklist",
        )
        assert run.code in (3, 4), run.err  # nothing is served: failed or inconclusive
        checked[k] = sorted(d["domain"] for d in json.loads(run.out)["domains"])

    assert checked[1] == in_shard(1) + ([SUB] if "d0.test" in in_shard(1) else [])
    assert sorted(checked[1] + checked[2]) == sorted([*DOMAINS, SUB])


def test_rotate_dry_run_by_shard_only_looks_at_its_domains(tmp_path: Path) -> None:
    fleet(tmp_path)
    host = host_without_mta(tmp_path)

    seen = {}
    for k in (1, 2):
        run = mailzone(
            tmp_path,
            "rotate",
            "--dry-run",
            "--format",
            "json",
            "--shard",
            f"{k}/2",
            "--host-config",
            str(host),
        )
        assert run.code in (0, 2), run.err
        seen[k] = sorted(d["domain"] for d in json.loads(run.out)["domains"])

    assert sorted(seen[1] + seen[2]) == sorted([*DOMAINS, SUB])
    assert not set(seen[1]) & set(seen[2])
    assert all(d in seen[2] for d in in_shard(2))
    assert not (tmp_path / "keys").exists() or not any((tmp_path / "keys").iterdir())


@pytest.mark.parametrize(
    ("command", "value"),
    [("plan", "0/2"), ("apply", "3/2"), ("rotate", "x"), ("check", "1/0"), ("plan", "1/300")],
)
def test_a_bad_shard_is_one_line_and_exit_1(tmp_path: Path, command: str, value: str) -> None:
    fleet(tmp_path)

    run = mailzone(tmp_path, command, "--shard", value)

    assert run.code == 1
    assert run.err.splitlines() == [run.err.strip()]
    assert run.err.startswith(f"error: --shard: '{value}'")


def _reporting_fleet(root: Path) -> tuple[str, str, str]:
    """Domains that send DMARC reports across shards: a (shard 1) reports to b (shard 2), and
    b reports to x.sub.a, where sub.a is a domain of its own zone in shard 2: the most specific
    receiver is sub.a, not a. Returns (a, b, sub.a)."""
    a, b = in_shard(1)[0], in_shard(2)[0]
    sub = next(f"s{i}.{a}" for i in range(50) if shard_of(f"s{i}.{a}", 2) == 2)
    for domain, dest in ((a, f"dmarc@{b}"), (b, f"r@x.{sub}"), (sub, f"dmarc@{b}")):
        spec = basic_spec(domain).replace(f"postmaster@{domain}", dest)
        write_spec(root, domain, spec)
    return a, b, sub


def test_shards_publish_the_report_authorisations_one_run_publishes(tmp_path: Path) -> None:
    """A shard loads only the specs it needs, and still every spec that sends DMARC reports
    to one of its domains (and links each to the most specific receiving domain)."""
    whole, sharded = tmp_path / "whole", tmp_path / "sharded"
    a, b, sub = _reporting_fleet(whole)
    _reporting_fleet(sharded)
    assert mailzone(whole, "apply", "--yes").code == 0
    for k in (1, 2):
        assert mailzone(sharded, "apply", "--yes", "--shard", f"{k}/2").code == 0

    files = zone_files(whole)
    assert f"{a}._report._dmarc" in files[f"{b}.zone"]
    assert f"{b}._report._dmarc.x" in files[f"{sub}.zone"]
    assert f"{sub}._report._dmarc" in files[f"{b}.zone"]
    assert "_report" not in files[f"{a}.zone"]
    assert zone_files(sharded) == files
    assert mailzone(sharded, "plan", "--exit-code").code == 0


def test_a_shard_skips_the_specs_it_does_not_need(tmp_path: Path) -> None:
    """Out-of-shard specs are not parsed: a broken one fails only its own shard's run."""
    fleet(tmp_path)
    broken = in_shard(2)[0]
    (tmp_path / "zones" / f"{broken}.yaml").write_text("domain: [\n")

    mine = mailzone(tmp_path, "plan", "--shard", "1/2")
    theirs = mailzone(tmp_path, "plan", "--shard", "2/2")

    assert mine.code == 0, mine.err
    assert theirs.code == 1 and f"zones/{broken}.yaml" in theirs.err
