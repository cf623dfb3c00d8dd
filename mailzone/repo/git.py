"""Committing and pushing `state/` with the `git` binary (`rotate --commit --push`), and
reading removed specs back from history.

Every call is `git -C root` with an argument list and a timeout; git's stderr is summarised
in one line. Only `state/<domain>.yaml` files are ever staged, and a push is never forced."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

from mailzone.errors import MailzoneError
from mailzone.repo.state import STATE_DIR
from mailzone.spec.yamlfile import MAX_BYTES as MAX_SPEC_TEXT

LOCAL_TIMEOUT = 30.0
NETWORK_TIMEOUT = 120.0
PUSH_ATTEMPTS = 3
BACKOFF = 1.0  # seconds before the second attempt; doubled before the third

_STATE_FILE = re.compile(rf"{STATE_DIR}/[^/]+\.yaml")
_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_EDITOR": "true", "LC_ALL": "C"}


def run_git(
    root: Path, *args: str, timeout: float = LOCAL_TIMEOUT, check: bool = True
) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, **_ENV},
        )
    except FileNotFoundError:
        raise MailzoneError("git: not found (install git to use --commit)") from None
    except subprocess.TimeoutExpired:
        raise MailzoneError(f"git {args[0]}: no answer within {timeout:g}s") from None
    if check and done.returncode != 0:
        raise MailzoneError(f"git {args[0]} failed: {_summary(done)}")
    return done


def _summary(done: subprocess.CompletedProcess[str]) -> str:
    """git's complaint in one line: the first `error:`/`fatal:` line, else the last line."""
    lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:", "!")):
            return line
    return lines[-1] if lines else f"exit code {done.returncode}"


def check_ready(root: Path, push: bool) -> None:
    """Refuse before anything is written: `root` is not in a git work tree, something is
    already staged (someone's work, which a commit would take along), or (`push`) the branch
    has no upstream."""
    if run_git(root, "rev-parse", "--is-inside-work-tree", check=False).returncode != 0:
        raise MailzoneError(f"--commit: {root} is not in a git work tree")
    staged = run_git(root, "diff", "--cached", "--name-only", "--no-renames").stdout.split()
    if staged:
        raise MailzoneError(
            f"--commit: the index already holds staged changes ({', '.join(staged[:3])}"
            f"{', …' if len(staged) > 3 else ''}); commit or unstage them first"
        )
    if push:
        _upstream(root)


def state_files(root: Path) -> dict[str, bytes]:
    """Every `state/*.yaml` file (path relative to `root`) and its bytes, to compare before
    and after a run."""
    return {
        f"{STATE_DIR}/{path.name}": path.read_bytes()
        for path in sorted((root / STATE_DIR).glob("*.yaml"))
        if path.is_file() and not path.is_symlink()
    }


def changed_files(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    """The paths whose bytes differ (written, created or deleted)."""
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


def commit_state(root: Path, paths: list[str], message: str) -> str:
    """Stage the `state/<domain>.yaml` files `paths` (relative to `root`; a deleted one is
    removed) and commit only them; the new commit's short id. Any other path is refused."""
    for path in paths:
        if not _STATE_FILE.fullmatch(path) or (root / path).is_symlink():
            raise MailzoneError(f"--commit: refusing to commit {path}: not a state/<domain>.yaml")
    run_git(root, "add", "--all", "--", *paths)
    run_git(root, *_identity(root), "commit", "--quiet", "--no-verify", "-m", message, "--", *paths)
    return run_git(root, "rev-parse", "--short", "HEAD").stdout.strip()


def _identity(root: Path) -> list[str]:
    """`-c` options naming mailzone as author when git has no identity (a timer never fails)."""
    name = run_git(root, "config", "user.name", check=False).stdout.strip()
    email = run_git(root, "config", "user.email", check=False).stdout.strip()
    if name and email:
        return []
    return [
        "-c",
        f"user.name={name or 'mailzone'}",
        "-c",
        f"user.email={email or f'mailzone@{socket.gethostname()}'}",
    ]


def _upstream(root: Path) -> tuple[str, str]:
    """The current branch's remote and the branch it merges from there."""
    branch = run_git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.strip()
    if not branch:
        raise MailzoneError("--push: HEAD is detached; check out a branch")
    remote = run_git(root, "config", f"branch.{branch}.remote", check=False).stdout.strip()
    merge = run_git(root, "config", f"branch.{branch}.merge", check=False).stdout.strip()
    if not remote or not merge:
        raise MailzoneError(
            f"--push: branch {branch} has no upstream (git branch --set-upstream-to=REMOTE/BRANCH)"
        )
    return remote, merge


def push(root: Path, attempts: int = PUSH_ATTEMPTS, backoff: float = BACKOFF) -> int:
    """Push the current branch to its upstream; on a non-fast-forward, fetch, rebase onto the
    upstream and try again (at most `attempts` pushes). A rebase conflict is aborted (the local
    commit stays) and named. Returns how many pushes it took."""
    remote, merge = _upstream(root)
    for attempt in range(1, attempts + 1):
        done = run_git(
            root,
            "push",
            "--porcelain",
            remote,
            f"HEAD:{merge}",
            timeout=NETWORK_TIMEOUT,
            check=False,
        )
        if done.returncode == 0:
            return attempt
        if not _rejected(done):
            raise MailzoneError(f"git push failed: {_summary(done)}")
        if attempt == attempts:
            break
        time.sleep(backoff * 2 ** (attempt - 1))
        run_git(root, "fetch", "--quiet", remote, timeout=NETWORK_TIMEOUT)
        _rebase(root)
    raise MailzoneError(
        f"git push: still rejected (non-fast-forward) after {attempts} attempts; "
        "the commit stays local and the next run pushes it"
    )


def _rejected(done: subprocess.CompletedProcess[str]) -> bool:
    text = done.stdout + done.stderr
    return any(s in text for s in ("non-fast-forward", "fetch first", "[rejected]"))


def _rebase(root: Path) -> None:
    done = run_git(root, "rebase", "--quiet", "@{upstream}", check=False)
    if done.returncode == 0:
        return
    conflicts = run_git(root, "diff", "--name-only", "--diff-filter=U", check=False).stdout.split()
    run_git(root, "rebase", "--abort", check=False)
    if conflicts:
        raise MailzoneError(
            f"git push: rebasing onto the upstream conflicts in {', '.join(conflicts)}; "
            "rebase aborted, the commit stays local (resolve it by hand)"
        )
    raise MailzoneError(
        f"git rebase failed: {_summary(done)}; rebase aborted, the commit stays local"
    )


MAX_REMOVED = 256  # removed specs read back from history per run
HISTORY_COMMITS = 500  # how far back `git log` looks for them


def removed_specs(root: Path, present: set[str]) -> dict[str, str]:
    """{file name: text} of spec files git knows that the work tree no longer has: deleted
    but still in HEAD, else their last version before the commit that deleted them (newest
    first). Empty when `root` is not in a git work tree. A removed spec's records stay in DNS
    until `forget`; this is how plan and forget find them without apply writing state/."""
    if run_git(root, "rev-parse", "--is-inside-work-tree", check=False).returncode != 0:
        return {}
    where: dict[str, str] = {}  # file name → the revision holding its last version
    head = run_git(root, "ls-tree", "--name-only", "HEAD", "--", "zones/", check=False)
    for line in head.stdout.splitlines():
        where.setdefault(line.rpartition("/")[2], "HEAD")
    log = run_git(
        root,
        "log",
        "--diff-filter=D",
        "--name-only",
        "--format=%x00%H",
        f"-n{HISTORY_COMMITS}",
        "--",
        "zones/",
        check=False,
    )
    commit = ""
    for line in log.stdout.splitlines():
        if line.startswith("\0"):
            commit = line[1:]
        elif line.strip() and commit:
            where.setdefault(line.rpartition("/")[2], f"{commit}^")
    out: dict[str, str] = {}
    for name, rev in sorted(where.items()):
        if name in present or not name.endswith((".yaml", ".yml")) or len(out) >= MAX_REMOVED:
            continue
        blob = f"{rev}:./zones/{name}"
        size = run_git(root, "cat-file", "-s", blob, check=False).stdout.strip()
        if not size.isdigit() or int(size) > MAX_SPEC_TEXT:
            continue
        shown = run_git(root, "show", blob, check=False)
        if shown.returncode == 0:
            out[name] = shown.stdout
    return out
