"""`mailzone rotate --commit --push` with real git: a bare repository as origin, a clone where
rotate runs (on the `local` target, driven with `--now`), and a second clone that pushes
concurrent work."""

from __future__ import annotations

import socket
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from tests.cli import Run
from tests.cli.test_rotate_cli import DAY, DOMAIN, HOUR, Repo, ok
from tests.helpers import git

STATE = f"state/{DOMAIN}.yaml"


@pytest.fixture(autouse=True)
def _no_git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """No global or system git config: the committer is whatever rotate falls back to."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


class Setup:
    """A rotated-once repository pushed to a bare origin; activation is due at `due`."""

    def __init__(self, tmp: Path) -> None:
        self.repo = Repo(tmp)
        self.root = self.repo.root
        self.repo.apply()
        ok(self.repo.rotate(self.repo.t0 + HOUR))  # the zone serves it: noted
        self.due = self.repo.t0 + HOUR + DAY
        self.origin = tmp / "origin.git"
        subprocess.run(
            ["git", "init", "--quiet", "--bare", "-b", "main", str(self.origin)], check=True
        )
        git(self.root, "init", "--quiet", "-b", "main")
        git(self.root, "add", "--all")
        git(self.root, "commit", "--quiet", "-m", "mail DNS")
        git(self.root, "remote", "add", "origin", str(self.origin))
        git(self.root, "push", "--quiet", "-u", "origin", "main")

    def rotate(self, *args: str) -> Run:
        return self.repo.rotate(self.due, *args)

    def other(self, tmp: Path, path: str, text: str) -> None:
        """A second clone commits `path` and pushes it first."""
        other = tmp / "other"
        if not other.exists():
            git(tmp, "clone", "--quiet", str(self.origin), str(other))
        (other / path).parent.mkdir(parents=True, exist_ok=True)
        (other / path).write_text(text)
        git(other, "add", "--", path)
        git(other, "commit", "--quiet", "-m", f"edit {path}")
        git(other, "push", "--quiet")

    def head(self, where: Path | str = "HEAD") -> str:
        return git(
            self.origin if where == "origin" else self.root,
            "rev-parse",
            "main" if where == "origin" else "HEAD",
        ).strip()


def files_of(root: Path, rev: str) -> list[str]:
    return git(root, "show", "--name-only", "--format=", rev).split()


def test_rotate_commit_push_commits_only_the_changed_state(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    start = s.head()
    (tmp_path / "repo" / "notes.txt").write_text("not staged, not committed\n")

    out = ok(s.rotate("--commit", "--push"))

    assert "git: committed" in out and "git: pushed" in out, out
    assert s.head() != start and s.head("origin") == s.head()
    assert files_of(s.root, "HEAD") == [STATE]
    message = git(s.root, "log", "-1", "--format=%B")
    first, _, *lines = message.strip().splitlines()
    assert first == "mailzone rotate: 1 domain(s) changed"
    assert lines and all(line.startswith(f"{DOMAIN}: ") for line in lines), message
    assert any("sign rsa mail with" in line for line in lines), message
    assert git(s.root, "log", "-1", "--format=%ae").strip() == f"mailzone@{socket.gethostname()}"
    assert "notes.txt" in git(s.root, "status", "--porcelain")


def test_rotate_push_rebases_over_a_concurrent_commit(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    s.other(tmp_path, "zones/README", "someone else's change\n")

    out = ok(s.rotate("--commit", "--push"))

    assert "git: pushed after 2 attempts" in out, out
    assert s.head("origin") == s.head()
    assert files_of(s.root, "HEAD") == [STATE]
    assert files_of(s.root, "HEAD~1") == ["zones/README"]


def test_rotate_push_conflict_aborts_and_keeps_the_commit(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    s.other(tmp_path, STATE, "# another host's state\n")
    theirs = s.head("origin")

    run = s.rotate("--commit", "--push")

    assert run.code == 1, (run.out, run.err)
    assert "git: committed" in run.out, run.out
    (error,) = run.errors
    assert f"conflicts in {STATE}" in error and "rebase aborted" in error, run.err
    assert len(run.err.strip().splitlines()) == 1, run.err
    assert s.head("origin") == theirs  # nothing forced
    assert files_of(s.root, "HEAD") == [STATE]  # the local commit stays
    assert git(s.root, "status", "--porcelain") == ""  # no rebase left half done
    assert "sign rsa mail with" in git(s.root, "log", "-1", "--format=%B")


def test_rotate_commit_refuses_staged_work_and_changes_nothing(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    (s.root / "zones" / "draft.txt").write_text("staged by someone\n")
    git(s.root, "add", "zones/draft.txt")
    state = (s.root / STATE).read_bytes()
    start = s.head()

    run = s.rotate("--commit")

    assert run.code == 1
    assert run.errors == [
        "--commit: the index already holds staged changes (zones/draft.txt); "
        "commit or unstage them first"
    ], run.err
    assert (s.root / STATE).read_bytes() == state and s.head() == start


def test_rotate_commit_with_nothing_due_commits_nothing(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    start = s.head()

    out = ok(s.repo.rotate(s.repo.t0 + 2 * HOUR, "--commit", "--push"))

    assert "git: no state changed; nothing to commit" in out, out
    assert s.head() == start == s.head("origin")


def test_rotate_commit_dry_run_commits_nothing(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    start = s.head()

    run = s.rotate("--commit", "--push", "--dry-run")

    assert run.code == 2, run.err
    assert "git:" not in run.out and s.head() == start


def test_rotate_push_needs_commit(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    run = s.rotate("--push")
    assert run.code == 1 and run.errors == ["--push: only with --commit"], run.err
    assert s.head() == s.head("origin")


def test_rotate_commit_outside_git_is_refused(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    state = (repo.root / STATE).read_bytes()
    run = repo.rotate(repo.t0 + timedelta(days=100), "--commit")
    assert run.code == 1 and run.errors == [f"--commit: {repo.root} is not in a git work tree"], (
        run.err
    )
    assert (repo.root / STATE).read_bytes() == state


def test_commit_state_refuses_anything_but_a_state_file(tmp_path: Path) -> None:
    from mailzone.errors import MailzoneError
    from mailzone.repo import git as repo_git

    for path in ("keys/example.org.2026.pem", "state/sub/x.yaml", "zones/example.org.yaml"):
        with pytest.raises(MailzoneError, match=r"not a state/<domain>\.yaml"):
            repo_git.commit_state(tmp_path, [path], "message")
