"""Benchmark: a fleet split by `--shard K/N`, two shards run at once versus one process.

N domains (default 10,000), each in its own zone on a private BIND9 and/or PowerDNS on
127.0.0.1 (``tests/servers.py``), with the spec of ``bench/reconcile.py`` (mail host, SPF, one
imported RSA-2048 DKIM key shared by every domain, DMARC) and published by one ``mailzone apply``
(not timed). Then, for each operation, one process (``--jobs 1``, check also ``--processes 1``)
against ``--shard 1/2`` and ``--shard 2/2`` run at the same time (each with the same options),
alternating which goes first:

* ``plan --exit-code --format json``: a no-op plan (it must exit 0);
* ``check --format json --nameserver <the server>``, without the families a private server
  cannot pass (rdns, blocklist, smtp, https); the provider file's ``mailzone: nameservers`` is
  the same server, so drift asks it too.

Every run's shards are merged by ``mailzone ci merge`` and must give exactly the one process's
JSON and exit code. Not a test; see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from measure import finish  # noqa: E402  (bench/measure.py)
from measure import versions as measure_versions  # noqa: E402
from reconcile import (  # noqa: E402
    MAILZONE,
    BenchError,
    Sample,
    domain_name,
    expect,
    public_keys,
    require_servers,
    run_measured,
    spec_text,
    started,
    target_kinds,
    use_pycache,
)

from tests.servers import DnsServer  # noqa: E402

PREFIX = "s"  # zones s0001.example ...
GOAL_RATIO = 0.6  # 2 shards at once / one process
GOAL_DOMAINS = 10_000
SKIP = ("rdns", "blocklist", "smtp", "https")  # no reverse zones, blocklist or mail server here


def write_repository(root: Path, server: DnsServer, count: int, key: str) -> None:
    """providers/target.yaml (the server, also the drift check's nameserver) and N specs."""
    config = server.provider_config()
    config["mailzone"] = {"nameservers": [f"127.0.0.1:{server.port}"]}
    (root / "providers").mkdir(parents=True, exist_ok=True)
    (root / "providers" / "target.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (root / "zones").mkdir(parents=True, exist_ok=True)
    for index in range(1, count + 1):
        domain = domain_name(PREFIX, index)
        (root / "zones" / f"{domain}.yaml").write_text(spec_text(domain, key, "none"))


def operations(server: DnsServer) -> dict[str, list[str]]:
    """Each measured operation's arguments (the shards add `--shard K/2`)."""
    check = ["check", "--format", "json", "--jobs", "1", "--processes", "1"]
    check += ["--nameserver", f"127.0.0.1:{server.port}"]
    for family in SKIP:
        check += ["--skip", family]
    return {
        "plan, no-op": ["plan", "--exit-code", "--format", "json", "--jobs", "1"],
        "check": check,
    }


def sharded(argv: list[str], root: Path, logs: Path) -> tuple[float, list[Sample]]:
    """`argv --shard 1/2` and `--shard 2/2` started together: wall time until both are done."""
    begin = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        runs = list(
            pool.map(
                lambda k: run_measured([*argv, "--shard", f"{k}/2"], root, logs / f"shard{k}"),
                (1, 2),
            )
        )
    return time.perf_counter() - begin, runs


def same_as_merged(kind: str, one: Sample, shards: list[Sample], root: Path, logs: Path) -> None:
    """`mailzone ci merge` of the shards' JSON must be the one process's JSON and exit code."""
    files = []
    for k, shard in enumerate(shards, 1):
        files.append(logs / f"shard{k}.json")
        files[-1].write_text(shard.stdout)
    merged = subprocess.run(
        [MAILZONE, "ci", "merge", kind, *map(str, files), "--format", "json"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if merged.returncode != one.returncode or merged.stderr:
        raise BenchError(
            f"{kind}: merged shards exit {merged.returncode}, one process {one.returncode}\n"
            f"{merged.stderr}"
        )
    if json.loads(merged.stdout) != json.loads(one.stdout):
        raise BenchError(f"{kind}: the merged shards differ from one process (logs in {logs})")


def run_target(kind: str, count: int, key: str, repeat: int, work: Path) -> list[dict[str, Any]]:
    """Start the server, publish the fleet, then time each operation `repeat` times both ways."""
    timings: list[float] = []
    rows = []
    with started(kind, PREFIX, count, timings) as server:
        print(f"{kind}: server with {count} zones started in {timings[0]:.1f} s", flush=True)
        root = work / kind
        write_repository(root, server, count, key)
        begin = time.perf_counter()
        expect(
            run_measured([MAILZONE, "apply", "--yes"], root, work / "logs" / f"{kind}-apply"),
            [0],
            f"{kind}: first apply",
        )
        print(f"{kind}: first apply in {time.perf_counter() - begin:.1f} s", flush=True)
        for operation, args in operations(server).items():
            command = "plan" if operation.startswith("plan") else "check"
            argv = [MAILZONE, *args]
            ones: list[Sample] = []
            pairs: list[tuple[float, list[Sample]]] = []
            for i in range(repeat):
                logs = work / "logs" / f"{kind}-{command}-{i}"
                if i % 2:
                    pairs.append(sharded(argv, root, logs))
                ones.append(run_measured(argv, root, logs / "one"))
                if not i % 2:
                    pairs.append(sharded(argv, root, logs))
                if command == "plan":
                    expect(ones[-1], [0], f"{kind}: no-op plan")
                same_as_merged(command, ones[-1], pairs[-1][1], root, logs)
            one_s = statistics.median(s.seconds for s in ones)
            shards_s = statistics.median(wall for wall, _ in pairs)
            rows.append(
                {
                    "target": kind,
                    "domains": count,
                    "operation": operation,
                    "exit_code": ones[-1].returncode,
                    "one_s": one_s,
                    "shards_s": shards_s,
                    "ratio": shards_s / one_s,
                    "one_peak_mb": max(s.peak_mb for s in ones),
                    "shard_peak_mb": [max(p[1][k].peak_mb for p in pairs) for k in (0, 1)],
                    "samples_one_s": [s.seconds for s in ones],
                    "samples_shards_s": [wall for wall, _ in pairs],
                }
            )
            print(f"{kind}: {operation}: done", flush=True)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    header = ("target", "N", "operation", "exit", "one s", "2 shards s", "ratio", "peak one")
    header += ("peak shards",)
    lines = [header] + [
        (
            r["target"],
            str(r["domains"]),
            r["operation"],
            str(r["exit_code"]),
            f"{r['one_s']:.2f}",
            f"{r['shards_s']:.2f}",
            f"{r['ratio']:.2f}",
            f"{r['one_peak_mb']:.0f} MB",
            " / ".join(f"{mb:.0f}" for mb in r["shard_peak_mb"]) + " MB",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print()
    for n, line in enumerate(lines):
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--domains", type=int, default=10_000, help="domains (default 10000)")
    parser.add_argument("--targets", default="bind,powerdns", help="bind and/or powerdns")
    parser.add_argument("--repeat", type=int, default=3, help="runs each way; medians are shown")
    parser.add_argument(
        "--no-pycache", action="store_true", help="leave the bytecode settings as they are"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (specs, logs)")
    args = parser.parse_args(argv)
    args.kinds = target_kinds(parser, args.targets)
    if args.domains < 2 or args.repeat < 1:
        parser.error("--domains: at least 2; --repeat: at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    require_servers(args.kinds)
    work = Path(tempfile.mkdtemp(prefix="mailzone-shards-"))
    began = time.perf_counter()
    if not args.no_pycache:
        use_pycache(work / "pycache")
    results: dict[str, Any] = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "repeat": args.repeat,
        "versions": measure_versions(("octodns", "octodns-powerdns", "dnspython"), REPO),
        "rows": [],
    }
    print(f"measuring mailzone {results['versions']['mailzone']} in {work}", flush=True)
    try:
        (key,) = public_keys(1, work / "keys", 1)
        for kind in args.kinds:
            results["rows"] += run_target(kind, args.domains, key, args.repeat, work)
    except BenchError as err:
        print(f"\nBENCHMARK FAILED: {err}\n(work dir kept: {work})", file=sys.stderr)
        return 1
    print_table(results["rows"])
    misses = [f"{r['target']} {r['operation']}" for r in results["rows"] if r["ratio"] > GOAL_RATIO]
    verdict = "met" if not misses else "NOT met: " + ", ".join(misses)
    if args.domains < GOAL_DOMAINS:
        verdict = f"not judged below {GOAL_DOMAINS} domains (start-up dominates); {verdict}"
    print(f"goal: 2 shards at once <= {GOAL_RATIO} x one process: {verdict}")
    print("every run's merged shards equal the one process (same JSON, same exit code)")
    results["goal"] = {"ratio_max": GOAL_RATIO, "met": not misses, "misses": misses}
    results["load_average_end"] = os.getloadavg()
    results["total_s"] = time.perf_counter() - began
    finish(results, args.json, args.keep, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
