"""`mailzone ci comment` and `mailzone ci issue` against a local GitHub stand-in
(`tests/github_standin.py`): what a real GitHub would be sent, request by request."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailzone.errors import MailzoneError
from mailzone.repo.github import GitHub
from tests.cli import Run, mailzone, refused
from tests.github_standin import REPO, GitHubStandin, running_standin
from tests.helpers import basic_spec, write_spec

TOKEN = "ghs_standinT0ken4711"
MARKER = "<!-- mailzone-plan -->"
DRIFT = "<!-- mailzone-drift -->"
RUN_URL = f"https://github.example/{REPO}/actions/runs/99"


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[GitHubStandin]:
    """The stand-in, and a workflow run's environment (minus the token) pointing at it."""
    for name in list(os.environ):
        if name.startswith("GITHUB_"):
            monkeypatch.delenv(name)
    with running_standin(TOKEN) as standin:
        standin.add_pull_request(7)
        env = {
            "GITHUB_API_URL": standin.url,
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_RUN_ID": "99",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GITHUB_EVENT_PATH": str(event(tmp_path, 7, head=REPO)),
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield standin


def event(tmp_path: Path, number: int, head: str | None) -> Path:
    """A pull_request event whose head is `head` (None: a deleted fork)."""
    path = tmp_path / "event.json"
    pr = {
        "number": number,
        "head": {"repo": {"full_name": head} if head else None},
        "base": {"repo": {"full_name": REPO}},
    }
    path.write_text(json.dumps({"action": "synchronize", "pull_request": pr}))
    return path


def comment(root: Path, plan: str, *args: str, token: str | None = TOKEN) -> Run:
    (root / "plan.md").write_text(plan)
    env = {"GITHUB_TOKEN": token} if token else None
    return mailzone(root, "ci", "comment", "--plan", str(root / "plan.md"), *args, env=env)


def plan_of(root: Path) -> str:
    run = mailzone(root, "plan", "--format", "markdown")
    assert run.code == 0, run.err
    return run.out


def repo(root: Path) -> Path:
    write_spec(root, "example.org", basic_spec())
    write_spec(root, "example.net", basic_spec("example.net"))
    return root


def test_one_comment_is_created_then_edited_in_place_across_three_pushes(
    github: GitHubStandin, tmp_path: Path
) -> None:
    root = repo(tmp_path / "repo")
    first = comment(root, plan_of(root))
    assert first.code == 0, first.err
    write_spec(root, "example.org", basic_spec().replace("192.0.2.25", "192.0.2.26"))
    second = comment(root, plan_of(root))
    assert mailzone(root, "apply", "--yes").code == 0
    third = comment(root, plan_of(root))

    assert third.code == 0, third.err
    (only,) = github.comments_on(7)
    assert github.writes() == [
        ("POST", f"/repos/{REPO}/issues/7/comments"),
        ("PATCH", f"/repos/{REPO}/issues/comments/{only['id']}"),
        ("PATCH", f"/repos/{REPO}/issues/comments/{only['id']}"),
    ]
    assert f"created comment {only['id']} on #7" in first.out
    assert f"updated comment {only['id']} on #7" in second.out
    edits = [r.body["body"] for r in github.requests if r.method != "GET"]
    assert all(body.startswith(MARKER + "\n") for body in edits)
    assert "192.0.2.26" in edits[1] and "| create | example.net. | MX |" in edits[1]
    assert "No DNS changes." in only["body"] and "| create |" not in only["body"]
    assert f"[workflow run]({RUN_URL})" in only["body"]
    for request in github.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"
    summary = (tmp_path / "summary.md").read_text()
    assert summary.count("## mailzone plan") == 3 and "192.0.2.26" in summary


def test_a_plan_with_changes_lists_only_the_zones_that_change(
    github: GitHubStandin, tmp_path: Path
) -> None:
    plan = "### a.test (local)\n\nNo changes.\n\n### b.test (local)\n\nNo changes.\n\n"
    plan += "### c.test (local)\n\n| action | name | type | old | new |\n|---|---|---|---|---|\n"
    plan += "| create | c.test. | MX |  | `10 mail.c.test.` |\n\n"
    assert comment(tmp_path, plan).code == 0
    body = github.comments_on(7)[0]["body"]
    assert "### c.test (local)" in body and "a.test" not in body
    assert "2 other zone(s): no changes." in body


def test_a_plan_too_long_for_a_comment_becomes_one_line_per_zone_and_a_link(
    github: GitHubStandin, tmp_path: Path
) -> None:
    rows = "".join(
        f"| create | _dmarc.d{i}.test. | TXT |  | `v=DMARC1; p=none; {'x' * 60}` |\n"
        for i in range(3)
    )
    table = "| action | name | type | old | new |\n|---|---|---|---|---|\n" + rows
    plan = "".join(f"### d{i}.test (local)\n\n{table}\n" for i in range(4000))
    assert len(plan) > 1_000_000

    run = comment(tmp_path, plan)

    assert run.code == 0, run.err
    body = github.comments_on(7)[0]["body"]
    assert len(body) <= 65_536
    assert body.startswith(MARKER)
    assert f"the whole plan is in the [job summary of this run]({RUN_URL})" in body
    assert "12000 change(s) in 4000 zone(s)" in body
    assert "| d0.test (local) | 3 |" in body and "| d1000.test (local) | 3 |" in body
    listed = body.count(".test (local) | 3 |")
    assert 1000 < listed < 4000
    assert f"… and {4000 - listed} more zone(s): see the whole plan." in body
    assert plan.rstrip() in (tmp_path / "summary.md").read_text()


@pytest.mark.parametrize("head", ["someone/dns", None])
def test_nothing_is_posted_for_a_pull_request_from_a_fork(
    github: GitHubStandin, tmp_path: Path, head: str | None
) -> None:
    event(tmp_path, 7, head=head)
    run = comment(tmp_path, "### a.test (local)\n\nNo changes.\n")
    assert run.code == 0, run.err
    assert f"#7 comes from the fork {head or 'a deleted fork'}" in run.out
    assert "nothing posted" in run.out
    assert github.requests == []
    assert "No changes." in (tmp_path / "summary.md").read_text()


def test_nothing_is_posted_without_a_token(github: GitHubStandin, tmp_path: Path) -> None:
    run = comment(tmp_path, "### a.test (local)\n\nNo changes.\n", token=None)
    assert run.code == 0, run.err
    assert "ci comment: GITHUB_TOKEN is not set; nothing posted on #7\n" in run.out
    assert github.requests == []


@pytest.mark.parametrize(
    ("method", "status", "message", "error"),
    [
        (
            "POST",
            403,
            "Resource not accessible by integration",
            f"GitHub API: POST /repos/{REPO}/issues/7/comments: 403 "
            "Resource not accessible by integration",
        ),
        (
            "GET",
            500,
            "Server Error",
            f"GitHub API: GET /repos/{REPO}/issues/7/comments: 500 Server Error",
        ),
    ],
)
def test_github_refusing_is_one_error_line(
    github: GitHubStandin, tmp_path: Path, method: str, status: int, message: str, error: str
) -> None:
    github.refuse(method, status, message)
    assert refused(comment(tmp_path, "### a.test (local)\n\nNo changes.\n")) == error


def test_a_wrong_token_is_an_error_that_does_not_show_it(
    github: GitHubStandin, tmp_path: Path
) -> None:
    run = comment(tmp_path, "", token="ghs_wrong0ne")  # mailzone() asserts it is not shown
    assert refused(run) == f"GitHub API: GET /repos/{REPO}/issues/7/comments: 401 Bad credentials"


def test_the_marked_comment_is_found_on_a_later_page(github: GitHubStandin, tmp_path: Path) -> None:
    for i in range(34):
        github.add_comment(7, f"looks good {i}")
    github.add_comment(7, f"> {MARKER}\n> quoted by a reviewer")
    ours = github.add_comment(7, f"{MARKER}\nan older plan", user="github-actions[bot]")

    run = comment(tmp_path, "### a.test (local)\n\nNo changes.\n", "--pr", "7")

    assert run.code == 0, run.err
    pages = [r.query.get("page", ["1"])[0] for r in github.requests if r.method == "GET"]
    assert pages == ["1", "2"]
    assert github.writes() == [("PATCH", f"/repos/{REPO}/issues/comments/{ours}")]
    assert github.comments[ours]["body"].startswith(f"{MARKER}\n## mailzone plan\n\nNo DNS")


def test_pr_option_without_an_event(
    github: GitHubStandin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_EVENT_PATH")
    github.add_pull_request(12)
    assert "no pull request: pass --pr N" in refused(comment(tmp_path, ""))
    assert comment(tmp_path, "", "--pr", "12").code == 0
    assert github.writes() == [("POST", f"/repos/{REPO}/issues/12/comments")]


def issue(root: Path, *args: str, token: str | None = TOKEN) -> Run:
    env = {"GITHUB_TOKEN": token} if token else None
    return mailzone(root, "ci", "issue", *args, env=env)


def test_drift_is_one_issue_opened_edited_then_closed(
    github: GitHubStandin, tmp_path: Path
) -> None:
    other = github.add_issue("an unrelated issue", "hello")
    (tmp_path / "drift.md").write_text("`mailzone plan --exit-code` exited 2\n")
    opened = issue(tmp_path, "--title", "DNS drift", "--body", str(tmp_path / "drift.md"))
    (tmp_path / "drift.md").write_text("`mailzone check` exited 3\n")
    again = issue(tmp_path, "--title", "DNS drift again", "--body", str(tmp_path / "drift.md"))

    assert opened.code == 0 and again.code == 0, (opened.err, again.err)
    drift = [i for i in github.issues.values() if str(i["body"]).startswith(DRIFT)]
    assert len(drift) == 1
    number = drift[0]["number"]
    assert f"ci issue: opened issue #{number}" in opened.out
    assert f"ci issue: updated issue #{number}" in again.out
    assert drift[0]["title"] == "DNS drift again"
    assert "`mailzone check` exited 3" in drift[0]["body"] and "exited 2" not in drift[0]["body"]
    assert f"[workflow run]({RUN_URL})" in drift[0]["body"]

    closed = issue(tmp_path, "--resolved")
    assert closed.code == 0, closed.err
    assert f"ci issue: closed issue #{number}" in closed.out
    assert drift[0]["state"] == "closed"
    (note,) = github.comments_on(number)
    assert note["body"].startswith("Resolved: the drift checks pass again")
    assert github.issues[other]["state"] == "open"  # the unrelated issue and the pull request stay
    assert github.issues[7]["state"] == "open"

    github.requests.clear()
    nothing = issue(tmp_path, "--resolved")
    assert nothing.code == 0 and "no open drift issue; nothing to close" in nothing.out
    assert github.writes() == []


def test_a_failure_after_the_issue_was_closed_opens_a_new_one(
    github: GitHubStandin, tmp_path: Path
) -> None:
    old = github.add_issue("DNS drift", f"{DRIFT}\nlast week", state="closed")
    (tmp_path / "drift.md").write_text("drift\n")
    assert issue(tmp_path, "--title", "DNS drift", "--body", str(tmp_path / "drift.md")).code == 0
    assert github.writes() == [("POST", f"/repos/{REPO}/issues")]
    assert github.issues[old]["state"] == "closed"


def test_a_huge_drift_body_is_cut_to_fit(github: GitHubStandin, tmp_path: Path) -> None:
    (tmp_path / "drift.md").write_text("x" * 100_000)
    run = issue(tmp_path, "--title", "DNS drift", "--body", str(tmp_path / "drift.md"))
    assert run.code == 0, run.err
    (body,) = [i["body"] for i in github.issues.values() if str(i["body"]).startswith(DRIFT)]
    assert len(body) <= 65_536 and "… cut here" in body


def test_drift_without_a_token_is_an_error(github: GitHubStandin, tmp_path: Path) -> None:
    (tmp_path / "drift.md").write_text("drift\n")
    run = issue(tmp_path, "--title", "t", "--body", str(tmp_path / "drift.md"), token=None)
    assert refused(run) == "ci issue: GITHUB_TOKEN is not set; the drift issue cannot be updated"
    assert refused(issue(tmp_path, "--resolved", token=None)).startswith("ci issue: GITHUB_TOKEN")
    assert github.requests == []


@pytest.mark.parametrize(
    "args",
    [(), ("--title", "t"), ("--resolved", "--title", "t")],
)
def test_ci_issue_wants_title_and_body_or_resolved(
    github: GitHubStandin, tmp_path: Path, args: tuple[str, ...]
) -> None:
    assert refused(issue(tmp_path, *args)).startswith("ci issue: give ")
    assert github.requests == []


def test_lists_stop_at_the_page_cap_and_never_follow_a_link_to_another_host(
    github: GitHubStandin,
) -> None:
    for i in range(70):
        github.add_comment(7, f"comment {i}")
    api = GitHub(github.url, TOKEN, REPO, max_pages=2)
    with pytest.raises(MailzoneError) as capped:
        list(api.issue_comments(7))
    assert str(capped.value) == (
        f"GitHub API: GET /repos/{REPO}/issues/7/comments: more than 2 pages of 100; stopped"
    )
    assert len(github.requests) == 2

    github.url = github.url.replace("127.0.0.1", "localhost")  # its Link now names another host
    with pytest.raises(MailzoneError, match="the next page is on another host; not followed"):
        list(GitHub(github.url.replace("localhost", "127.0.0.1"), TOKEN, REPO).issue_comments(7))
    assert all(r.query.get("page", ["1"]) == ["1"] for r in github.requests[2:])


def test_an_unreachable_api_is_one_error_line(tmp_path: Path) -> None:
    api = GitHub("http://127.0.0.1:9", TOKEN, REPO, timeout=5)
    with pytest.raises(MailzoneError, match=r"^GitHub API: POST /repos/octo/dns/issues: "):
        api.create_issue("t", "b")
