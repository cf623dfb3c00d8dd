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
    """Hold an exclusive lock on `path` (created if missing; the holder's pid in it meanwhile).

    While another process holds it, try again every POLL seconds for up to `timeout` seconds,
    calling `waiting(holder's pid)` once; then MailzoneError naming the holder and the file
    (`shown`, default `path`). Not re-entrant: a process takes it once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    waited = f"waited {timeout:g} s" if timeout else "not waiting"
                    raise MailzoneError(
                        f"another {what} (pid {_holder(fd)}) holds {shown or path}; {waited} "
                        "(--lock-timeout); try again when it ends"
                    ) from None
                if waiting is not None and not told:
                    waiting(_holder(fd))
                    told = True
                time.sleep(min(POLL, left))
        # the pid over the old one, then the rest cut: a reader never sees an empty file
        pid = f"{os.getpid()}\n".encode()
        os.pwrite(fd, pid, 0)
        os.ftruncate(fd, len(pid))
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # released: no pid left behind (and an unchanged file)
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    """The pid the holder wrote (`unknown` before it has)."""
    text = os.pread(fd, 32, 0).decode("ascii", "replace")
    return (text.splitlines() or [""])[0].strip() or "unknown"
