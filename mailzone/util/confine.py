"""Files a repository holds stay inside it: a spec, state or provider file (or its folder) that
is a symlink leading out of the repository is refused before it is read or written, and a file
is read only when it is a regular one, without blocking on a FIFO.

In GitOps whoever opens a pull request writes `zones/`, `state/` and `providers/`; a symlink
to `/etc/shadow` or to a FIFO must not make mailzone read, quote or write outside the root."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mailzone.errors import SpecError


def is_inside(path: Path, *folders: Path) -> bool:
    """Whether `path`, symlinks resolved (also where it does not exist yet), lies in a folder.
    A symlink loop stays where it is (reading it then fails with ELOOP, a one-line error)."""
    if any(_plainly_below(os.fspath(path), os.fspath(folder)) for folder in folders):
        return True
    real = os.path.realpath(path)
    for folder in folders:
        base = os.path.realpath(folder)
        if real == base or real.startswith(base.rstrip(os.sep) + os.sep):
            return True
    return False


def _plainly_below(path: str, folder: str) -> bool:
    """`path` is `folder/a/b` with no `..` and no symlink among `a`, `b` (a missing one cannot
    lead anywhere): inside `folder`, known from an lstat per step instead of resolving both."""
    if folder == os.curdir:  # `--root .`: paths below it are relative
        if os.path.isabs(path):
            return False
        prefix, steps = "", path.split(os.sep)
    else:
        base = folder.rstrip(os.sep)
        if not path.startswith(base + os.sep):
            return False
        prefix, steps = base + os.sep, path[len(base) + 1 :].split(os.sep)
    if ".." in steps:
        return False
    return not any(os.path.islink(prefix + os.sep.join(steps[: i + 1])) for i in range(len(steps)))


def as_written(root: Path, path: Path) -> str:
    """`zones/x.yaml`: the path as the repository names it, no symlink followed."""
    try:
        relative = path.relative_to(root)
    except ValueError:
        return str(path)
    base = root.absolute()
    if base.is_relative_to(Path.cwd()):  # as mailzone shows every path: relative when below
        base = base.relative_to(Path.cwd())
    return os.path.normpath(base / relative)


def confine(root: Path, path: Path, writes: bool = False) -> None:
    """SpecError naming `path` (and the folder on the way that is the symlink) when it leads
    outside `root`. `path` is `root / ...` and need not exist; `writes`: it is a folder that
    mailzone writes into (`state/`, `build/zones/`)."""
    if is_inside(path, root):
        return
    shown = as_written(root, path) + ("/" if writes else "")
    step = root
    parts = path.relative_to(root).parts if path.is_relative_to(root) else ()
    for part in parts:  # the first step that leads out
        step = step / part
        if not is_inside(step, root):
            break
    if step in (path, root):
        culprit = "a symlink to a folder" if writes else "a symlink to a file"
    else:
        culprit = f"{as_written(root, step)}/ is a symlink to a folder"
    what = "writes only inside it" if writes else "reads only files inside it"
    raise SpecError(f"{culprit} outside the repository; mailzone {what}", shown)


def read_regular(path: Path, limit: int) -> bytes | None:
    """The bytes of the regular file `path`, or None when it is larger than `limit`.

    Opened with O_NONBLOCK and checked with fstat before any read, so a FIFO or a device
    neither blocks nor is read; ValueError says what it is instead, OSError is open's own."""
    kind = _kind(os.stat(path).st_mode)
    if kind:
        raise ValueError(f"not a regular file ({kind})")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        info = os.fstat(fd)
        kind = _kind(info.st_mode)  # swapped since the stat
        if kind:
            raise ValueError(f"not a regular file ({kind})")
        if info.st_size > limit:
            return None
        chunks = []
        size = 0
        while size <= limit:  # a file that grew meanwhile
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    return None if size > limit else b"".join(chunks)


def _kind(mode: int) -> str:
    """'' for a regular file, else what it is."""
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"
