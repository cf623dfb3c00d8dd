"""Benchmark: DKIM key generation speed (mailzone.dkim.keys.generate_many).

Prints keys/s for RSA-2048 and Ed25519 on one process and on every core, then the time to make
1000 RSA-2048 keys on every core. The goal it informs: rotating 1000 domains within 60 s on two
cores. Keys are made in memory and discarded; nothing is written. Not a test. `rates()` is also
used by bench/rotate.py.

    python bench/keygen.py                 # defaults: 100 RSA keys per rate (Ed25519: 1000), 1000 in the batch
    python bench/keygen.py --count 50 --batch 200 --json keygen.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from mailzone.dkim.keys import generate_many
from mailzone.spec.dkim_key import Algorithm


def rate(algorithm: Algorithm, bits: int, count: int, processes: int) -> tuple[float, float]:
    """(keys per second, seconds) for `count` keys; pool start-up is included."""
    start = time.perf_counter()
    pems = generate_many([(algorithm, bits)] * count, processes=processes)
    elapsed = time.perf_counter() - start
    assert len(set(pems)) == count
    return count / elapsed, elapsed


def rates(count: int, processes: list[int]) -> list[dict[str, Any]]:
    """RSA-2048 (`count` keys) and Ed25519 (10 × `count`) on each number of processes."""
    out = []
    for key, algorithm, bits, n in (
        ("RSA-2048", "rsa", 2048, count),
        ("Ed25519", "ed25519", 256, count * 10),
    ):
        for procs in dict.fromkeys(processes):
            per_s, seconds = rate(algorithm, bits, n, procs)  # type: ignore[arg-type]
            out.append(
                {"key": key, "processes": procs, "keys": n, "seconds": seconds, "keys_per_s": per_s}
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="RSA keys per rate measurement")
    parser.add_argument("--batch", type=int, default=1000, help="RSA-2048 keys in the timed batch")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()

    cores = len(os.sched_getaffinity(0))
    print(f"cores available: {cores}")
    found = rates(args.count, [1, cores])
    for r in found:
        print(f"{r['key']:<9} {r['processes']} process(es): {r['keys_per_s']:8.1f} keys/s")
    _, seconds = rate("rsa", 2048, args.batch, cores)
    verdict = "within" if seconds <= 60 else "OVER"
    print(
        f"{args.batch} RSA-2048 keys on {cores} processes: {seconds:.1f} s ({verdict} the 60 s goal)"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"cores": cores, "rates": found, "batch_s": seconds}, indent=2)
        )


if __name__ == "__main__":
    main()
