"""The floor under a no-op plan on BIND: reading N zones' AXFRs, and mailzone's plan beside it.

Sets up the work of ``bench/reconcile.py`` (N domains, one zone each, applied by mailzone on a
private BIND9), then times, in this process, every zone read one after the other:

- ``raw``: the TSIG-signed AXFR query sent and the messages read, only framed (each RR's length
  walked to find the closing SOA): no values, no TSIG check, a connection per zone;
- ``raw, one connection``: the same, every zone on one TCP connection. The floor;
- ``lean``: mailzone's lean reader (``mailzone/dns/axfr.py``), TSIG verified, values read, a
  connection per zone; ``lean, one connection``: the same on one kept connection (`Connections`);
- ``prefilter``: the lean reader plus the canonical form the pre-filter compares
  (``FastRfc2136Provider.live_zone``, on its kept connection);
- ``dnspython``: ``dns.query.xfr`` with its full parse (the reader before the pre-filter);

and then the real ``mailzone plan --exit-code`` (a no-op) with the pre-filter and without
(``MAILZONE_NO_FASTPATH=1``), wall and CPU time::

    python bench/axfr_floor.py --domains 1000 --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import dns.tsigkeyring

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reconcile import (
    Case,
    domain_name,
    expect,
    public_keys,
    run_measured,
    started,
    use_pycache,
    write_provider,
)

from mailzone.dns import axfr
from mailzone.dns.wire import _skip_name
from mailzone.octo.bind_reader import FastRfc2136Provider


def raw_read(
    host: str, port: int, zone: str, keyring: object, algorithm: str, kept: Any = None
) -> int:
    """Send the signed AXFR query, read messages up to the closing SOA; bytes read. On the
    connection `kept` holds (a one-item list: the socket and its reader), if given."""
    query = dns.message.make_query(zone, dns.rdatatype.AXFR)
    query.use_tsig(keyring, algorithm=algorithm)
    wire = query.to_wire()
    total = 0
    if kept is not None and not kept:
        sock = socket.create_connection((host, port), timeout=10)
        kept.append((sock, sock.makefile("rb")))
    with contextlib.nullcontext(kept[0]) if kept else _fresh(host, port) as (sock, stream):
        sock.sendall(struct.pack(">H", len(wire)) + wire)
        soas = 0
        while soas < 2:
            (size,) = struct.unpack(">H", stream.read(2))
            data = stream.read(size)
            total += size + 2
            qdcount, ancount = struct.unpack_from(">HH", data, 4)
            pos = 12
            for _ in range(qdcount):
                pos = _skip_name(data, pos) + 4
            for _ in range(ancount):
                pos = _skip_name(data, pos)
                rtype, _, _, length = struct.unpack_from(">HHIH", data, pos)
                pos += 10 + length
                soas += rtype == 6
    return total


@contextlib.contextmanager
def _fresh(host: str, port: int) -> Iterator[tuple[socket.socket, Any]]:
    with socket.create_connection((host, port), timeout=10) as sock:
        yield sock, sock.makefile("rb")


def timed(what: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds of `what` over `repeat` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        what()
        walls.append(time.perf_counter() - t0)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpus.append(cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="mailzone-floor-"))
    try:
        use_pycache(work / "pycache")
        keys = public_keys(args.domains, work / "keys", 2)
        case = Case("bind", args.domains, work / "case", keys, None)
        case.prepare()
        starts: list[float] = []
        with started("bind", "m", args.domains, starts) as server:
            write_provider(case.mz_root, server)
            expect(
                run_measured(case.mailzone("apply", "--yes"), work, case.log("apply")), [0], "apply"
            )
            config = server.provider_config()
            keyring = dns.tsigkeyring.from_text({config["key_name"]: config["key_secret"]})
            algorithm = config["key_algorithm"]
            zones = [f"{domain_name('m', i)}." for i in range(1, args.domains + 1)]
            host, port = config["host"], config["port"]
            provider = FastRfc2136Provider(
                "bench", **{k: v for k, v in config.items() if k != "class"}
            )
            size = sum(raw_read(host, port, z, keyring, algorithm) for z in zones)
            kept: list[Any] = []
            conns = axfr.Connections()
            rows = {
                "raw": timed(
                    lambda: [raw_read(host, port, z, keyring, algorithm) for z in zones],
                    args.repeat,
                ),
                "raw, one connection": timed(
                    lambda: [raw_read(host, port, z, keyring, algorithm, kept) for z in zones],
                    args.repeat,
                ),
                "lean": timed(
                    lambda: [
                        axfr.transfer(host, port, z, 10, keyring=keyring, keyalgorithm=algorithm)
                        for z in zones
                    ],
                    args.repeat,
                ),
                "lean, one connection": timed(
                    lambda: [
                        axfr.transfer(
                            host,
                            port,
                            z,
                            10,
                            keyring=keyring,
                            keyalgorithm=algorithm,
                            connections=conns,
                        )
                        for z in zones
                    ],
                    args.repeat,
                ),
                "prefilter": timed(
                    lambda: [(provider.live_zone(z), provider.forget_live(z)) for z in zones],
                    args.repeat,
                ),
                "dnspython": timed(
                    lambda: [
                        list(
                            dns.query.xfr(
                                host,
                                z,
                                port=port,
                                keyring=keyring,
                                keyalgorithm=algorithm,
                                relativize=False,
                            )
                        )
                        for z in zones
                    ],
                    args.repeat,
                ),
            }
            for label, env in (("plan (pre-filter)", None), ("plan (MAILZONE_NO_FASTPATH=1)", "1")):
                samples = []
                for _ in range(args.repeat):
                    if env:
                        os.environ["MAILZONE_NO_FASTPATH"] = env
                    else:
                        os.environ.pop("MAILZONE_NO_FASTPATH", None)
                    run = run_measured(case.mailzone("plan", "--exit-code"), work, case.log("plan"))
                    samples.append(expect(run, [0], label))
                os.environ.pop("MAILZONE_NO_FASTPATH", None)
                rows[label] = (
                    statistics.median(s.seconds for s in samples),
                    statistics.median(s.cpu_seconds for s in samples),
                )
        print(
            f"{args.domains} zones on BIND9, {size / 1024:.0f} KiB of AXFR; medians of {args.repeat}"
        )
        print(f"{'read':32} {'wall s':>8} {'cpu s':>8}")
        for label, (wall, cpu) in rows.items():
            print(f"{label:32} {wall:8.2f} {cpu:8.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
