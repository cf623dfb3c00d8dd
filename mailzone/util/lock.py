"""One run at a time: an advisory lock on a file (released by the kernel if the process dies)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from mailzone.errors import MailzoneError

POLL = 0.1  # seconds between two tries while another process holds the lock


@contextlib.contextmanager
def exclusive(
    path: Path,
    what: str,
    timeout: float = 0,
    waiting: Callable[[str], None] | None = None,
    shown: str | None = None,
) -> Iterator[None]:
    """Hold an exclusive lock on `path` (the holder's pid in it; removed on release).

    While another process holds it, try again every POLL seconds for up to `timeout` seconds,
    calling `waiting(holder's pid)` once; then MailzoneError naming the holder and the file
    (`shown`, default `path`). Not re-entrant: a process takes it once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    told = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            left = deadline - time.monotonic()
            if left <= 0:
                waited = f"waited {timeout:g} s" if timeout else "did not wait"
                raise MailzoneError(
                    f"another {what} (pid {holder}) holds {shown or path}; {waited} "
                    f"(--lock-timeout {timeout:g}); try again when it ends"
                ) from None
            if waiting is not None and not told:
                waiting(holder)
                told = True
            time.sleep(min(POLL, left))
            continue
        if _is(fd, path):
            break
        os.close(fd)  # the holder removed this file as it ended: lock the one at `path` now
    try:
        # over a killed holder's pid, then the rest cut: a reader never sees an empty pid
        pid = f"{os.getpid()}\n".encode()
        os.pwrite(fd, pid, 0)
        os.ftruncate(fd, len(pid))
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # while held: a finished run leaves no file behind
        os.close(fd)


def _is(fd: int, path: Path) -> bool:
    """Whether `fd` is the file at `path` (not one removed meanwhile)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _holder(fd: int) -> str:
    """The pid the holder wrote (`unknown` before it has)."""
    text = os.pread(fd, 32, 0).decode("ascii", "replace")
    return (text.splitlines() or [""])[0].strip() or "unknown"
