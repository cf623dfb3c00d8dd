"""`--format json` of plan, apply and rotate on the `local` target: every output is valid by its
JSON Schema (mailzone/cli/render/schemas/) and says the exit code the command returned; and
`mailzone ci merge` of real shard results. `check` is validated on BIND in
tests/integration/test_shard_merge.py."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from mailzone.repo.shard import shard_of
from tests.cli import json_result, mailzone, write_provider
from tests.helpers import basic_spec, write_spec

DOMAINS = ["a.test", "b.test", "c.test", "d.test"]


def fleet(root: Path) -> Path:
    for domain in DOMAINS:
        write_spec(root, domain, basic_spec(domain))
    return root


def unreachable(root: Path, domain: str) -> None:
    """`domain` on a PowerDNS provider nobody listens for: its zone cannot be planned."""
    write_provider(
        root,
        "down",
        {"class": "octodns_powerdns.PowerDnsProvider", "host": "127.0.0.1", "port": 9},
    )
    write_spec(root, domain, basic_spec(domain, provider="down"))


def test_plan_json_with_changes_without_and_with_errors(tmp_path: Path) -> None:
    fleet(tmp_path)

    pending = json_result(mailzone(tmp_path, "plan", "--format", "json", "--exit-code"), "plan")
    quiet = json_result(mailzone(tmp_path, "plan", "--format", "json"), "plan")
    assert mailzone(tmp_path, "apply", "--yes").code == 0
    clean = json_result(mailzone(tmp_path, "plan", "--format", "json", "--exit-code"), "plan")
    unreachable(tmp_path, "b.test")
    broken = json_result(mailzone(tmp_path, "plan", "--format", "json", "--exit-code"), "plan")

    assert (pending["exit_code"], quiet["exit_code"], clean["exit_code"]) == (2, 0, 0)
    assert [z["zone"] for z in pending["zones"]] == DOMAINS
    assert all(z["changes"] for z in pending["zones"])
    assert quiet["zones"] == pending["zones"]
    assert not any(z["changes"] for z in clean["zones"])
    assert broken["exit_code"] == 1
    assert [z["zone"] for z in broken["zones"] if z["error"]] == ["b.test"]


def test_apply_json_with_a_failed_zone(tmp_path: Path) -> None:
    fleet(tmp_path)
    unreachable(tmp_path, "c.test")

    data = json_result(mailzone(tmp_path, "apply", "--yes", "--format", "json"), "apply")

    assert data["exit_code"] == 1
    assert {o["zone"]: o["status"] for o in data["outcomes"]} == {
        "a.test": "applied",
        "b.test": "applied",
        "c.test": "error",
        "d.test": "applied",
    }
    again = json_result(mailzone(tmp_path, "apply", "--yes", "--format", "json", "a.test"), "apply")
    assert (again["exit_code"], again["outcomes"][0]["status"]) == (0, "unchanged")


def test_rotate_json_of_a_dry_run_and_a_real_run(tmp_path: Path) -> None:
    host = tmp_path / "host.yaml"
    host.write_text(yaml.safe_dump({"key_dir": str(tmp_path / "keys"), "mta": {"kind": "none"}}))
    repo = tmp_path / "repo"
    repo.mkdir()
    made = mailzone(
        repo,
        "init",
        "a.test",
        "--mail-host",
        "mail.a.test",
        "--ipv4",
        "192.0.2.25",
        "--host-config",
        str(host),
    )
    assert made.code == 0, made.err
    rotate = ("rotate", "--format", "json", "--host-config", str(host))

    dry = json_result(mailzone(repo, *rotate, "--dry-run"), "rotate")
    real = json_result(mailzone(repo, *rotate), "rotate")

    assert (dry["exit_code"], dry["dry_run"], dry["due"]) == (0, True, False)
    assert (real["exit_code"], real["dry_run"], real["due"]) == (0, False, None)
    assert [w["waits_for"] for w in real["domains"][0]["waits"]] == ["nameservers"]
    assert [d["domain"] for d in real["domains"]] == ["a.test"]


def test_merged_plan_shards_equal_one_plan(tmp_path: Path) -> None:
    fleet(tmp_path)
    assert {shard_of(d, 2) for d in DOMAINS} == {1, 2}
    whole = mailzone(tmp_path, "plan", "--format", "json", "--exit-code")
    shards = []
    for k in (1, 2):
        run = mailzone(tmp_path, "plan", "--format", "json", "--exit-code", "--shard", f"{k}/2")
        shards.append(tmp_path / f"shard{k}.json")
        shards[-1].write_text(run.out)

    merged = mailzone(tmp_path, "ci", "merge", "plan", *map(str, shards), "--format", "json")

    assert json_result(merged, "plan") == json.loads(whole.out)
    assert merged.code == whole.code == 2
    text = mailzone(tmp_path, "ci", "merge", "plan", *map(str, shards))
    assert text.code == 2
    assert text.out.splitlines()[-1] == "plan: 4 zone(s), 4 with changes; exit code 2"
    markdown = mailzone(tmp_path, "ci", "merge", "plan", *map(str, shards), "--format", "markdown")
    planned = mailzone(tmp_path, "plan", "--format", "markdown")
    assert markdown.out.startswith(planned.out)


def test_merging_a_shard_twice_or_the_wrong_kind_is_one_error(tmp_path: Path) -> None:
    fleet(tmp_path)
    shard = tmp_path / "shard.json"
    shard.write_text(mailzone(tmp_path, "plan", "--format", "json").out)

    twice = mailzone(tmp_path, "ci", "merge", "plan", str(shard), str(shard))
    wrong = mailzone(tmp_path, "ci", "merge", "check", str(shard))

    assert (twice.code, wrong.code) == (1, 1)
    assert (
        twice.err
        == f"error: {shard}: zones: a.test is also in {shard} (merge the results of one run's shards, each once)\n"
    )
    assert wrong.err.startswith(f"error: {shard}: domains: missing, or not a list")
    assert twice.out == wrong.out == ""


def test_an_empty_shard_prints_a_result_that_merges(tmp_path: Path) -> None:
    host = tmp_path / "host.yaml"
    host.write_text(yaml.safe_dump({"key_dir": str(tmp_path / "keys"), "mta": {"kind": "none"}}))
    repo = tmp_path / "repo"
    repo.mkdir()
    write_spec(repo, "a.test", basic_spec("a.test"))
    full, empty = f"{shard_of('a.test', 2)}/2", f"{3 - shard_of('a.test', 2)}/2"
    rotate = ("rotate", "--dry-run", "--now", "2030-01-01T00:00:00Z", "--host-config", str(host))
    check = ("check", "--nameserver", "127.0.0.1:9", "--timeout", "0.2", "--host-config", str(host))
    commands = {"plan": ("plan",), "apply": ("apply", "--yes"), "check": check, "rotate": rotate}

    for kind, args in commands.items():
        data = json_result(mailzone(repo, *args, "--format", "json", "--shard", empty), kind)
        assert data["exit_code"] == 0
        assert data["domains" if kind in ("check", "rotate") else "zones"] == []

    files = []
    for shard in (full, empty):
        files.append(tmp_path / f"rotate-{shard[0]}.json")
        files[-1].write_text(mailzone(repo, *rotate, "--format", "json", "--shard", shard).out)
    merged = mailzone(repo, "ci", "merge", "rotate", *map(str, files), "--format", "json")
    assert json_result(merged, "rotate") == json.loads(
        mailzone(repo, *rotate, "--format", "json").out
    )
