"""Atomic file writes: a reader sees the old file or the new one, never half of either; and
the temp files a killed writer left behind."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

# `.<name>.<pid>.<random>.tmp` (mkstemp's random part: 8 of [a-z0-9_]); older versions wrote
# `.<name>.<random>.tmp`, without the pid
_TEMP_WITH_PID = re.compile(r"\..+\.(\d{1,10})\.[a-z0-9_]{8}\.tmp")
_TEMP_WITHOUT_PID = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")
OLD_TEMP_AGE = 3600.0  # seconds: a temp file without a pid this old has no live writer


def temp_file(path: Path) -> tuple[int, str]:
    """A new temp file beside `path` (mode 0600, O_EXCL): an fd and its name,
    `.<name>.<pid>.<random>.tmp`, so that a later run can tell whether its writer still lives."""
    return tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)


def synced_temp(path: Path, data: bytes, mode: int, gid: int | None = None) -> str:
    """A temp file beside `path` holding `data`, given `mode` and group `gid` and synced (it is
    created 0600, so the bytes are never readable by others meanwhile); its name. On failure no
    temp file remains."""
    fd, tmp = temp_file(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if gid is not None:
                os.fchown(fh.fileno(), -1, gid)
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp


def write_atomic(path: Path, text: str, mode: int = 0o644, durable: bool = True) -> None:
    """Replace `path` with `text` (temp file in the same directory, fsync, rename, fsync dir).

    On any failure the old file is left as it was and no temp file remains; OSError propagates.
    `durable=False` skips the fsyncs (still atomic for readers) for data that is rewritten anyway."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make the renames in `folder` durable (not every filesystem allows it)."""
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def remove_stale_temp_files(folders: Iterable[Path], now: float) -> list[Path]:
    """Remove the temp files `temp_file` made in `folders` whose writer is gone (its pid is no
    process; without a pid in the name: untouched for OLD_TEMP_AGE); the paths removed. Regular
    files only: a symbolic link or anything else with such a name is left alone."""
    removed = []
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode) and _stale(entry.name, st.st_mtime, now):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)  # unlink never follows a link
                    removed.append(Path(entry.path))
    return removed


def _stale(name: str, mtime: float, now: float) -> bool:
    match = _TEMP_WITH_PID.fullmatch(name)
    if match:
        alive = _alive(int(match[1]))
        if alive is not None:
            return not alive
    return bool(_TEMP_WITHOUT_PID.fullmatch(name)) and now - mtime > OLD_TEMP_AGE


def _alive(pid: int) -> bool | None:
    """Whether a process `pid` exists (None: cannot tell)."""
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except (OverflowError, OSError):
        return None
    return True


def replace_together(files: Sequence[tuple[Path, bytes, int, int | None]]) -> None:
    """Replace each path with (bytes, mode, group id or None): every temp file is written,
    given its mode and group and synced first, then they are renamed into place one right after
    the other. A failure before the renames leaves every file as it was and no temp file."""
    temps: list[tuple[str, Path]] = []
    try:
        for path, data, mode, gid in files:
            temps.append((synced_temp(path, data, mode, gid), path))
        for tmp, path in temps:
            os.replace(tmp, path)
    finally:
        for tmp, _ in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    for folder in {path.parent for path, *_ in files}:
        fsync_dir(folder)
