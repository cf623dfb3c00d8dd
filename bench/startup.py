"""Benchmark: start-up (`--help`) and loading a repository's specs and states.

* ``mailzone --help``, ``mailzone plan --help`` and ``mailzone check --help`` beside
  ``octodns-sync --help``: each a real subprocess (interpreter start included, see
  bench/measure.py), run in turn ``--repeat`` times; medians of wall and CPU time, peak RSS.
* loading: N domains (default 1000) as ``bench/check.py`` writes them (a spec on a shared mail
  host and a state with one active RSA-2048 selector each); ``load_project()`` in a fresh
  process ``--repeat-load`` times, timed around the call alone (its imports excluded), with the
  process's peak RSS; ``--profile FILE`` adds a cProfile of one load and prints its top entries.

The machine is shared: read the CPU column beside the wall one. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from check import write_repository  # noqa: E402  (bench/check.py)
from measure import finish, measure  # noqa: E402
from measure import versions as measure_versions  # noqa: E402
from reconcile import public_keys  # noqa: E402

BIN = Path(sys.executable).parent
COMMANDS = {
    "mailzone --help": [str(BIN / "mailzone"), "--help"],
    "mailzone plan --help": [str(BIN / "mailzone"), "plan", "--help"],
    "mailzone check --help": [str(BIN / "mailzone"), "check", "--help"],
    "octodns-sync --help": [str(BIN / "octodns-sync"), "--help"],
}
GOALS = {"mailzone --help": 0.1, "mailzone plan --help": 0.12}

_LOADER = """
import sys, time
from pathlib import Path
from mailzone.repo.project import load_project
root, profile = Path(sys.argv[1]), sys.argv[2]
wall, cpu = time.perf_counter(), time.process_time()
if profile:
    import cProfile
    cProfile.run("load_project(root)", profile)
else:
    project = load_project(root)
    assert project.domains
print(time.perf_counter() - wall, time.process_time() - cpu)
"""


def help_rows(repeat: int, work: Path) -> list[dict[str, Any]]:
    """Each command `repeat` times, the commands taking turns."""
    samples: dict[str, list[Any]] = {name: [] for name in COMMANDS}
    for i in range(repeat):
        for name, argv in COMMANDS.items():
            run = measure(argv, work, work / "logs", f"help-{i}")
            if run.returncode != 0:
                raise SystemExit(f"{name}: exit {run.returncode}\n{run.stderr[-2000:]}")
            samples[name].append(run)
    return [
        {
            "command": name,
            "median_s": statistics.median(r.seconds for r in runs),
            "cpu_s": statistics.median(r.cpu_seconds for r in runs),
            "peak_mb": max(r.peak_kib for r in runs) / 1024,
        }
        for name, runs in samples.items()
    ]


def load_figures(root: Path, repeat: int, work: Path, profile: Path | None) -> dict[str, Any]:
    """`load_project(root)` in a fresh interpreter each time: medians of the call's wall and CPU
    time, the process's peak RSS."""
    walls, cpus, peaks = [], [], []
    for i in range(repeat):
        run = measure(
            [sys.executable, "-c", _LOADER, str(root), ""], work, work / "logs", f"load-{i}"
        )
        if run.returncode != 0:
            raise SystemExit(f"load_project: exit {run.returncode}\n{run.stderr[-2000:]}")
        wall, cpu = run.stdout.split()
        walls.append(float(wall))
        cpus.append(float(cpu))
        peaks.append(run.peak_kib / 1024)
    if profile:
        subprocess.run([sys.executable, "-c", _LOADER, str(root), str(profile)], check=True)
        import pstats

        stats = pstats.Stats(str(profile))
        stats.sort_stats("tottime").print_stats(15)
        stats.sort_stats("cumulative").print_stats(25)
    return {
        "median_s": statistics.median(walls),
        "cpu_s": statistics.median(cpus),
        "peak_mb": statistics.median(peaks),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=21, help="runs of each --help (21)")
    parser.add_argument("--domains", type=int, default=1000, help="domains to load (1000; 0: none)")
    parser.add_argument("--repeat-load", type=int, default=5, help="loads measured (5)")
    parser.add_argument("--profile", type=Path, help="also cProfile one load to FILE")
    parser.add_argument("--key-cache", type=Path, help="keep the public keys here (reused)")
    parser.add_argument("--json", type=Path, help="also write all figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="mailzone-bench-startup-"))
    began = time.perf_counter()
    # compiled bytecode for every tool, as an installed tool has (see bench/README.md)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    warm = "mailzone.cli.app, mailzone.repo.project, octodns.cmds.sync"
    subprocess.run([sys.executable, "-c", f"import {warm}"], check=True)
    versions = measure_versions(("octodns", "pydantic", "typer", "PyYAML"), REPO)
    results: dict[str, Any] = {"versions": versions, "load_average_1min": [os.getloadavg()[0]]}
    print(f"measuring mailzone {versions['mailzone']} in {work}", flush=True)
    results["help"] = help_rows(args.repeat, work)
    print(f"\n| command (medians of {args.repeat}) | wall | CPU | peak RSS | goal |")
    print("|---|---:|---:|---:|---:|")
    for row in results["help"]:
        goal = GOALS.get(row["command"])
        shown = f"≤ {goal:.2f} s" if goal else "—"
        print(
            f"| `{row['command']}` | {row['median_s']:.3f} s | {row['cpu_s']:.3f} s "
            f"| {row['peak_mb']:.0f} MB | {shown} |"
        )
    if args.domains:
        root = work / "repo"
        public = public_keys(args.domains, args.key_cache or work / "keys", 2)
        write_repository(root, args.domains, max(1, args.domains // 100), public)
        results["load"] = load = load_figures(root, args.repeat_load, work, args.profile)
        print(
            f"\nload_project, {args.domains} specs and states (medians of {args.repeat_load}): "
            f"{load['median_s']:.3f} s wall, {load['cpu_s']:.3f} s CPU, "
            f"process peak {load['peak_mb']:.0f} MB"
        )
    results["load_average_1min"].append(os.getloadavg()[0])
    print(
        "1-minute load average before and after: "
        + ", ".join(f"{x:.1f}" for x in results["load_average_1min"])
    )
    results["total_s"] = time.perf_counter() - began
    finish(results, args.json, args.keep, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
