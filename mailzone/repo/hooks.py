"""Server-side git hooks for a self-hosted repository (`mailzone hook install`).

`pre-receive` validates the pushed commit of the branch in a temporary tree and refuses the
push when it is invalid; `post-receive` writes that commit into the deploy checkout and runs
`mailzone apply --yes` there. The hooks are short shell scripts: every value they need is
fixed at install time, and all the logic is in the `mailzone` command they call."""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from mailzone.errors import MailzoneError
from mailzone.repo.git import run_git
from mailzone.util.files import write_atomic

MARKER = "# written by `mailzone hook install`"
HOOKS = ("pre-receive", "post-receive")

_HEAD = """#!/bin/sh
{marker} (run it again to change it)
set -u
mailzone() {{ {mailzone} "$@"; }}
BRANCH={ref}
ENV_FILE={env_file}
if [ -n "$ENV_FILE" ]; then set -a; . "$ENV_FILE"; set +a; fi
"""

# every ref line is read; a deleted branch (all-zero id) and other refs pass through
_PRE_RECEIVE = """# refuses a push of $BRANCH whose specs, states or provider files are invalid
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mailzone-push.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
status=0
while read -r old new ref; do
    [ "$ref" = "$BRANCH" ] || continue
    case "$new" in *[!0]*) ;; *) continue ;; esac
    rm -rf "$tmp/tree" "$tmp/tree.tar" && mkdir "$tmp/tree" &&
        git archive --format=tar -o "$tmp/tree.tar" "$new" &&
        tar -xf "$tmp/tree.tar" -C "$tmp/tree" || exit 1
    echo "mailzone: validating $new"
    (cd "$tmp/tree" && mailzone --root . validate) || status=1
done
[ "$status" = 0 ] || echo "mailzone: push refused: fix the errors above and push again" >&2
exit "$status"
"""

# one deploy at a time (flock on a file in the git dir); the pusher waits and sees the result
_POST_RECEIVE = """# writes the pushed $BRANCH into WORK_TREE and applies it there
WORK_TREE={work_tree}
LOG={log}
rev=
while read -r old new ref; do
    [ "$ref" = "$BRANCH" ] || continue
    case "$new" in *[!0]*) rev=$new ;; *) rev= ;; esac
done
[ -n "$rev" ] || exit 0
exec 9>>{deploy_lock}
flock -n 9 || {{ echo "mailzone: waiting for the deploy of an earlier push..."; flock 9; }}
{{
    echo "mailzone: applying $rev ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
    GIT_INDEX_FILE={index} git --work-tree="$WORK_TREE" read-tree --reset -u "$rev" &&
        (cd "$WORK_TREE" && mailzone --root . apply --yes)
    echo "mailzone: apply of $rev exited $?"
}} 2>&1 | tee -a "$LOG"
"""


@dataclass(frozen=True)
class HookSetup:
    """What `install_hooks` wrote and where the post-receive hook deploys."""

    hooks: list[Path]
    work_tree: Path
    log: Path


def git_dir_of(path: Path) -> Path:
    """The absolute git directory of the repository at `path` (bare, or a work tree)."""
    if not path.is_dir():
        raise MailzoneError(f"--git-dir: {path}: no such directory")
    if shutil.which("git") is None:
        raise MailzoneError("git: not found (install git to use hooks)")
    done = run_git(path, "rev-parse", "--absolute-git-dir", check=False)
    if done.returncode != 0:
        raise MailzoneError(f"--git-dir: {path} is not a git repository")
    return Path(done.stdout.strip())


def install_hooks(
    path: Path,
    branch: str,
    mailzone: list[str],
    *,
    work_tree: Path | None = None,
    env_file: Path | None = None,
    log: Path | None = None,
    force: bool = False,
) -> HookSetup:
    """Write the pre-receive and post-receive hooks into the hooks folder of the repository at
    `path` (git's `core.hooksPath` if set), calling the command `mailzone` (absolute). The
    deploy checkout `work_tree` defaults to `<git dir>/mailzone-checkout`, the log to
    `<git dir>/mailzone-apply.log`. A hook mailzone did not write is replaced only with `force`;
    nothing is written when one is refused."""
    git_dir = git_dir_of(path)
    if run_git(path, "check-ref-format", f"refs/heads/{branch}", check=False).returncode != 0:
        raise MailzoneError(f"--branch: {branch!r} is not a valid branch name")
    hooks_dir = Path(run_git(path, "rev-parse", "--git-path", "hooks").stdout.strip())
    hooks_dir = (path / hooks_dir).resolve() if not hooks_dir.is_absolute() else hooks_dir
    if env_file is not None and not env_file.is_file():
        raise MailzoneError(f"--env-file: {env_file}: no such file")
    work_tree = (work_tree or git_dir / "mailzone-checkout").absolute()
    log = (log or git_dir / "mailzone-apply.log").absolute()
    targets = [hooks_dir / name for name in HOOKS]
    for target in targets:
        if target.exists() and not force and MARKER not in _text(target):
            raise MailzoneError(
                f"{target}: a hook mailzone did not write is already there "
                "(merge it by hand, or --force to replace it)"
            )
    head = _HEAD.format(
        marker=MARKER,
        mailzone=shlex.join(mailzone),
        ref=shlex.quote(f"refs/heads/{branch}"),
        env_file=shlex.quote(str(env_file.absolute()) if env_file else ""),
    )
    post = _POST_RECEIVE.format(
        work_tree=shlex.quote(str(work_tree)),
        log=shlex.quote(str(log)),
        deploy_lock=shlex.quote(str(git_dir / "mailzone-deploy.lock")),
        index=shlex.quote(str(git_dir / "mailzone-index")),
    )
    work_tree.mkdir(parents=True, exist_ok=True)
    hooks_dir.mkdir(parents=True, exist_ok=True)
    for target, body in zip(targets, (_PRE_RECEIVE, post), strict=True):
        write_atomic(target, head + body, mode=0o755)
    return HookSetup(targets, work_tree, log)


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise MailzoneError(f"{path}: {err.strerror}") from None
