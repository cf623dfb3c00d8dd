"""Run one command the way a user does and measure it: wall time from fork to reap, its own
peak RSS and CPU time (from `os.wait4`), stdout and stderr kept in files.

A small fresh interpreter (-I -S) forks the command, so the command's peak RSS does not start
from the big benchmark process's (on Linux a child inherits its parent's RSS high-water mark
through fork + exec). Output goes to files: a pipe nobody reads while waiting could fill up."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_WRAPPER = """
import os, sys, time
result, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(result, "w") as fh:
    cpu = usage.ru_utime + usage.ru_stime
    fh.write(f"{seconds} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)} {cpu}")
"""


@dataclass(frozen=True)
class Measured:
    """What one run took and said."""

    seconds: float
    peak_kib: int
    returncode: int
    cpu_seconds: float
    stdout: str
    stderr: str


def measure(
    argv: Sequence[str], cwd: Path, logs: Path, name: str, env: Mapping[str, str] | None = None
) -> Measured:
    """Run `argv` in `cwd`; its output goes to `logs/<name>.out` and `.err`."""
    logs.mkdir(parents=True, exist_ok=True)
    out_path, err_path, result = (logs / f"{name}.{ext}" for ext in ("out", "err", "time"))
    result.unlink(missing_ok=True)
    wrapper = [sys.executable, "-I", "-S", "-c", _WRAPPER, str(result), *argv]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        status = subprocess.call(
            wrapper,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    if not result.exists():
        raise RuntimeError(f"{name}: the measuring wrapper failed (status {status}) for {argv[0]}")
    seconds, peak, code, cpu = result.read_text().split()
    return Measured(
        float(seconds),
        int(peak),
        int(code),
        float(cpu),
        out_path.read_text(errors="replace"),
        err_path.read_text(errors="replace"),
    )


def finish(results: dict[str, object], json_path: Path | None, keep: bool, work: Path) -> None:
    """The end of every bench: the total time, the JSON figures, the work dir kept or removed."""
    import json
    import shutil

    print(f"total run: {results['total_s']:.0f} s")
    if json_path:
        json_path.write_text(json.dumps(results, indent=2) + "\n")
        print(f"figures written to {json_path}")
    if keep:
        print(f"work dir kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def versions(packages: Sequence[str], repo: Path) -> dict[str, str]:
    """Each package's installed version, and mailzone's commit (`+uncommitted` if edited)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for package in packages:
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "missing"
    git = ["git", "-C", str(repo)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "mailzone"], capture_output=True, text=True
    )
    out["mailzone"] = head.stdout.strip() + ("+uncommitted" if dirty.stdout.strip() else "")
    return out
