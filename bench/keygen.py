"""Benchmark: DKIM key generation speed (mailzone.keys.generate_many).

Prints keys/s for RSA-2048 on 1 and 2 processes and for Ed25519 (inline), then the time to make
1000 RSA-2048 keys on 2 processes. The goal it informs: rotating 1000 domains within 60 s on two
cores. Keys are made in memory and discarded; nothing is written. Not a test.

    python bench/keygen.py                 # defaults: 100 keys per rate, 1000 for the batch
    python bench/keygen.py --count 50 --batch 200
"""

from __future__ import annotations

import argparse
import os
import time

from mailzone.keys import Algorithm, generate_many


def rate(algorithm: Algorithm, bits: int, count: int, processes: int) -> tuple[float, float]:
    """(keys per second, seconds) for `count` keys; pool start-up is included."""
    start = time.perf_counter()
    pems = generate_many([(algorithm, bits)] * count, processes=processes)
    elapsed = time.perf_counter() - start
    assert len(set(pems)) == count
    return count / elapsed, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="keys per rate measurement")
    parser.add_argument("--batch", type=int, default=1000, help="RSA-2048 keys in the timed batch")
    args = parser.parse_args()

    print(f"cores available: {len(os.sched_getaffinity(0))}")
    for processes in (1, 2):
        per_s, _ = rate("rsa", 2048, args.count, processes)
        print(f"RSA-2048, {processes} process(es): {per_s:7.1f} keys/s")
    per_s, _ = rate("ed25519", 256, args.count * 10, 1)
    print(f"Ed25519, 1 process:        {per_s:7.1f} keys/s")
    _, seconds = rate("rsa", 2048, args.batch, 2)
    verdict = "within" if seconds <= 60 else "OVER"
    print(f"{args.batch} RSA-2048 keys on 2 processes: {seconds:.1f} s ({verdict} the 60 s goal)")


if __name__ == "__main__":
    main()
