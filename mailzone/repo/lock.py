"""One writing run per repository: `state/.mailzone.lock`, taken by apply, rotate, forget and
keys import (read-only commands take none), and the temp files a killed run left behind."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from mailzone.repo.scaffold import add_to_gitignore
from mailzone.repo.state import LEGACY_LOCK, REPO_LOCK
from mailzone.spec.yamlfile import display_path
from mailzone.util.files import remove_stale_temp_files
from mailzone.util.lock import exclusive


@contextlib.contextmanager
def repo_lock(
    root: Path,
    timeout: float,
    say: Callable[[str], None],
    *,
    backup_dir: Path | None = None,
    key_dir: Path | None = None,
) -> Iterator[None]:
    """Hold the repository's lock, waiting up to `timeout` seconds for another run to end (`say`
    tells once that it waits, and for which pid). Then remove the temp files no live run is
    writing in state/, the backups, build/zones and `key_dir` (`say` names each)."""
    state = root / "state"
    lock = state / REPO_LOCK
    shown = display_path(lock)

    def waiting(pid: str) -> None:
        say(f"waiting for the lock held by pid {pid} ({shown})…")

    with exclusive(lock, "mailzone run", timeout, waiting, shown):
        # a killed run leaves the lock file in state/, which is committed: init has git ignore
        # it; a state/.gitignore of rotate's old lock gets its name too
        if (state / ".gitignore").exists():
            add_to_gitignore(state / ".gitignore", (LEGACY_LOCK, REPO_LOCK))
        folders = [state, backup_dir or root / "build" / "backups", root / "build" / "zones"]
        for path in remove_stale_temp_files(
            [*folders, *([key_dir] if key_dir else [])], time.time()
        ):
            say(f"removed stale temp file {display_path(path)}")
        yield
