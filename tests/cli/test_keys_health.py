"""`mailzone keys health`: rotation health from the specs and states alone (no DNS, no key), so
that a drift job can tell when the mail host's rotation timer has stopped."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mailzone.repo.state import load_state, save_state
from mailzone.spec.dkim_key import parse_public_key
from mailzone.spec.state import SelectorState
from tests.cli import mailzone, refused
from tests.helpers import basic_spec, write_spec

NOW = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def key(n: int) -> str:
    return base64.b64encode(bytes([n]) * 32).decode()


def add(
    root: Path, domain: str, selector: str, phase: str, created: datetime, **times: Any
) -> None:
    """A selector (an Ed25519 public key; no private key is needed) in the domain's state."""
    state = load_state(root, domain)
    entry = SelectorState.of_key(
        selector, parse_public_key(key(len(state.selectors) + 1)), phase, created, **times
    )
    save_state(root, state.model_copy(update={"selectors": [*state.selectors, entry]}))


def repo(root: Path, *domains: str) -> Path:
    for domain in domains:
        write_spec(root, domain, basic_spec(domain) + "dkim:\n  algorithms: [ed25519]\n")
    return root


def health(root: Path, *args: str, now: datetime = NOW) -> tuple[int, str]:
    run = mailzone(root, "keys", "health", "--now", now.isoformat(), *args)
    assert run.err == "", run.err
    return run.code, run.out


def test_a_fresh_rotation_is_healthy_until_its_pending_key_waits_too_long(
    tmp_path: Path,
) -> None:
    root = repo(tmp_path, "example.org")
    assert mailzone(root, "rotate", "--now", NOW.isoformat()).code == 0  # the first key: pending

    assert health(root) == (0, "rotation health: ok, 1 domain(s) rotate keys, none stalled\n")
    assert health(root, now=NOW + 3 * DAY - timedelta(minutes=1))[0] == 0
    code, out = health(root, now=NOW + 5 * DAY)
    (selector,) = [s.selector for s in load_state(root, "example.org").selectors]
    assert code == 3
    assert out == (
        f"example.org: pending key {selector} was created 2026-12-06, 5 days ago, and no mail "
        "is signed with it yet (expected within 3 days): no nameserver served it at the last "
        "rotate run: has CI applied it, and is the mail host's rotation timer running?\n"
    )


def test_an_active_key_older_than_max_age_is_overdue(tmp_path: Path) -> None:
    root = repo(tmp_path, "example.org", "example.net")
    made = NOW - 200 * DAY
    add(root, "example.org", "s2026a", "active", made, switched=made)
    add(root, "example.net", "s2026b", "active", NOW - 10 * DAY, switched=NOW - 10 * DAY)

    code, out = health(root)

    assert code == 3
    assert out == (
        "example.org: active key s2026a is 200 days old (created 2026-05-20), max_age 180 days: "
        "the mail host's rotation timer is not running\n"
    )


def test_a_pending_key_every_nameserver_serves_but_unused_names_the_timer(
    tmp_path: Path,
) -> None:
    root = repo(tmp_path, "example.org")
    old = NOW - 100 * DAY
    add(root, "example.org", "s1", "active", old, switched=old)
    add(root, "example.org", "s2", "pending", NOW - 10 * DAY, visible_since=NOW - 9 * DAY)

    code, out = health(root, "--format", "json")

    assert code == 3
    data = json.loads(out)
    assert data["schema_version"] == 1 and data["exit_code"] == 3 and data["domains"] == 1
    (problem,) = data["problems"]
    assert problem["domain"] == "example.org" and problem["selector"] == "s2"
    assert problem["kind"] == "stalled" and problem["created"].startswith("2026-11-26")
    assert problem["age_days"] == 10 and problem["limit"] == "3d"
    assert (
        "every nameserver serves it since 2026-11-27: the mail host's rotation timer is not"
        in (problem["message"])
    )


def test_a_rotation_in_progress_with_an_old_active_key_is_not_overdue(tmp_path: Path) -> None:
    root = repo(tmp_path, "example.org")
    old = NOW - 181 * DAY
    add(root, "example.org", "s1", "active", old, switched=old)
    add(root, "example.org", "s2", "pending", NOW - DAY)
    assert health(root)[0] == 0


def test_domains_that_do_not_rotate_are_not_judged(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec() + "dkim:\n  algorithms: []\n")
    assert health(tmp_path) == (0, "rotation health: ok, 0 domain(s) rotate keys, none stalled\n")
    code, out = health(tmp_path, "--format", "json")
    assert (code, json.loads(out)["problems"]) == (0, [])


def test_shards_split_the_domains(tmp_path: Path) -> None:
    names = [f"d{i}.test" for i in range(6)]
    root = repo(tmp_path, *names)
    old = NOW - 200 * DAY
    for name in names:
        add(root, name, "s1", "active", old, switched=old)
    seen: list[str] = []
    for k in (1, 2):
        code, out = health(root, "--shard", f"{k}/2")
        assert code == 3 if out else code == 0
        seen += [line.split(":")[0] for line in out.splitlines() if "active key" in line]
    assert sorted(seen) == names


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--now", "soon"), "--now: 'soon' is not an ISO 8601 time such as 2026-11-25T06:00:00Z"),
        (("nowhere.test",), "no spec for nowhere.test"),
    ],
)
def test_bad_arguments_are_one_error_line(
    tmp_path: Path, args: tuple[str, ...], error: str
) -> None:
    repo(tmp_path, "example.org")
    assert refused(mailzone(tmp_path, "keys", "health", *args)).startswith(error)
