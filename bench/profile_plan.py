"""Profile mailzone's no-op plan or first apply (and optionally octodns-sync's) on a real server.

Sets up the same work as ``bench/reconcile.py`` (N domains, one zone each), then runs the real
CLI under cProfile and prints the top functions by cumulative and by own time::

    python bench/profile_plan.py --domains 1000 --target bind --top 30
    python bench/profile_plan.py --domains 1000 --octodns          # octodns-sync too
    python bench/profile_plan.py --domains 1000 --operation apply  # the first apply instead

cProfile sees only the main thread, so mailzone is profiled with ``--jobs 1`` (the default 4
runs the zone reads in worker threads; on loopback that changes little, see the benchmark).
Profiling slows Python-heavy code ~2x: compare shares, not seconds, with the benchmark.
``--pyinstrument`` uses pyinstrument (a sampling profiler; less overhead) when importable.
"""

from __future__ import annotations

import argparse
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reconcile import (
    OCTODNS_SYNC,
    Case,
    Sample,
    expect,
    octodns_changes,
    public_keys,
    run_measured,
    started,
    use_pycache,
    write_octodns_config,
    write_provider,
)


def profile(argv: list[str], out: Path, cwd: Path, pyinstrument: bool) -> float:
    """Run ``argv`` (a console script path and its arguments) under a profiler; seconds."""
    if pyinstrument:
        cmd = [sys.executable, "-m", "pyinstrument", "-o", str(out), "-r", "text", *argv]
    else:
        cmd = [sys.executable, "-m", "cProfile", "-o", str(out), *argv]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"profiled run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def show(out: Path, top: int, pyinstrument: bool) -> None:
    """Print the profile: pyinstrument's tree, or pstats by cumulative and by own time."""
    if pyinstrument:
        print(out.read_text())
        return
    stats = pstats.Stats(str(out))
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--target", choices=("bind", "powerdns"), default="bind")
    parser.add_argument("--jobs", type=int, default=1, help="mailzone --jobs (1: see above)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--operation",
        choices=("plan", "apply"),
        default="plan",
        help="plan: no-op plan after an apply (default); apply: the first apply into empty zones",
    )
    parser.add_argument("--octodns", action="store_true", help="profile octodns-sync too")
    parser.add_argument("--pyinstrument", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="keep the profiles in this dir")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="mailzone-profile-"))
    out_dir = args.out or work / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        use_pycache(work / "pycache")
        keys = public_keys(args.domains, work / "keys", 2)
        case = Case(args.target, args.domains, work / "case", keys, args.jobs)
        case.prepare()
        starts: list[float] = []
        with (
            started(args.target, "m", args.domains, starts) as mz_server,
            started(args.target, "o", args.domains, starts) as od_server,
        ):
            write_provider(case.mz_root, mz_server)
            write_octodns_config(case.od_config, case.od_zones, od_server, args.domains)
            ext = "txt" if args.pyinstrument else "pstats"
            what = "plan, no-op" if args.operation == "plan" else "first apply"
            mz_argv = case.mailzone("plan", "--exit-code")
            plain: Sample | None = None
            if args.operation == "plan":
                apply = run_measured(case.mailzone("apply", "--yes"), work, case.log("apply-mz"))
                expect(apply, [0], "mailzone apply")
                plain = run_measured(mz_argv, work, case.log("noop-mz"))
                expect(plain, [0], "mailzone plan --exit-code after apply")
            else:  # the plain figure is the benchmark's; here only the profiled run
                mz_argv = case.mailzone("apply", "--yes")
            mz_out = out_dir / f"mailzone-{args.operation}-{args.target}-{args.domains}.{ext}"
            seconds = profile(mz_argv, mz_out, work, args.pyinstrument)
            if args.operation == "apply":
                check = run_measured(case.mailzone("plan", "--exit-code"), work, case.log("chk"))
                expect(check, [0], "mailzone plan --exit-code after the profiled apply")
            shown = f"{plain.seconds:.2f} s plain, " if plain else ""
            print(
                f"## mailzone {what}, {args.domains} zones on {args.target}, "
                f"--jobs {args.jobs}: {shown}{seconds:.2f} s profiled\n"
            )
            show(mz_out, args.top, args.pyinstrument)
            if args.octodns:
                od_out = out_dir / f"octodns-{args.operation}-{args.target}-{args.domains}.{ext}"
                if args.operation == "plan":
                    doit = run_measured(case.octodns(True), work, case.log("apply-od"))
                    expect(doit, [0], "octodns-sync --doit")
                    dry = run_measured(case.octodns(False), work, case.log("noop-od"))
                    if octodns_changes(expect(dry, [0], "octodns-sync"))[0]:
                        sys.exit("octodns-sync plans changes right after its apply")
                    shown = f"{dry.seconds:.2f} s plain, "
                else:
                    shown = ""
                seconds = profile(
                    case.octodns(args.operation == "apply"), od_out, work, args.pyinstrument
                )
                print(
                    f"## octodns-sync {what}, {args.domains} zones on {args.target}: "
                    f"{shown}{seconds:.2f} s profiled ({OCTODNS_SYNC})\n"
                )
                show(od_out, args.top, args.pyinstrument)
    finally:
        if args.out is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            shutil.rmtree(work / "keys", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
