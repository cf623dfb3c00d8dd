"""Benchmark: mailzone plan/apply versus plain `octodns-sync` on the same work.

Both tools drive the same octoDNS provider against a real BIND9 (RFC 2136) or PowerDNS (HTTP API)
server started on 127.0.0.1 by ``tests/servers.py``. mailzone writes into zones ``mNNNN.example``
on one server, octoDNS into ``oNNNN.example`` on another, so they never see each other's records.
Each domain: MX, A + AAAA for ``mail``, SPF at the apex and at ``mail``, one RSA-2048 DKIM key
(imported, public key inline), DMARC; the octoDNS YAML holds exactly the records mailzone expands
(without mailzone's ``_mailzone`` registry TXT).

Operations, each a real CLI subprocess (interpreter start included), timed with a monotonic clock
and with the child's peak RSS from ``os.wait4``:

* ``first apply``: apply into empty zones (fresh servers each repeat);
* ``plan, no-op``: plan right after that apply;
* ``plan, 10% changed``: plan after the DMARC policy of every tenth domain changed;
* ``apply, 10% changed``: apply that change (repeats alternate the policy back and forth);
* with ``--compare-jobs J``: ``plan, no-op --jobs J``, mailzone with another thread count
  (octoDNS column: its own no-op plan again).

Run ``python bench/reconcile.py --help``; see bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from measure import finish, measure  # noqa: E402  (bench/measure.py)
from measure import versions as measure_versions  # noqa: E402

from mailzone.records.model import DesiredRecord  # noqa: E402
from mailzone.repo.project import load_project  # noqa: E402
from tests.servers import BindServer, DnsServer, PowerDnsServer, find_binary  # noqa: E402

BIN = Path(sys.executable).parent  # the real entry points, not pyenv shims
MAILZONE = str(BIN / "mailzone")
OCTODNS_SYNC = str(BIN / "octodns-sync")
SELECTOR = "20200803"
KEY_BITS = 2048
GOAL_RATIO = 0.9
GOAL_HELP_S = 0.3
GOAL_SIZES = (100, 1000)
SERVERS: dict[str, type[DnsServer]] = {"bind": BindServer, "powerdns": PowerDnsServer}
OPERATIONS = ("first apply", "plan, no-op", "plan, 10% changed", "apply, 10% changed")
GOAL_OPERATIONS = ("first apply", "plan, no-op", "plan, 10% changed")
WARM_MODULES = (
    "mailzone.cli.app",
    "mailzone.repo.project",
    "mailzone.octo.sync",
    "mailzone.cli.render.plan",
    "octodns.cmds.sync",
    "octodns.manager",
    "octodns.provider.yaml",
    "octodns_bind",
    "octodns_powerdns",
)
_SUMMARY = re.compile(r"Summary: Creates=(\d+), Updates=(\d+), Deletes=(\d+)")


class BenchError(RuntimeError):
    """A run went wrong or a tool's result was not what the work requires."""


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Sample:
    """One run of one command."""

    seconds: float
    peak_mb: float
    returncode: int
    cpu_seconds: float  # user + system CPU of the child: steadier than wall time on a busy host
    stdout: str
    stderr: str


def run_measured(argv: Sequence[str], cwd: Path, log: Path) -> Sample:
    """Run ``argv`` as a child (see bench/measure.py); output in ``log``'s .out/.err."""
    try:
        run = measure(argv, cwd, log.parent, log.stem)
    except RuntimeError as err:
        raise BenchError(str(err)) from None
    return Sample(
        seconds=run.seconds,
        peak_mb=run.peak_kib / 1024,
        returncode=run.returncode,
        cpu_seconds=run.cpu_seconds,
        stdout=run.stdout,
        stderr=run.stderr,
    )


def expect(sample: Sample, codes: Sequence[int], what: str) -> Sample:
    """Fail loudly when a command exits with an unexpected status."""
    if sample.returncode not in codes:
        tail = "\n".join((sample.stdout + sample.stderr).splitlines()[-25:])
        raise BenchError(f"{what}: exit status {sample.returncode}, expected {codes}\n{tail}")
    return sample


@dataclass
class Row:
    """Samples of one operation at one size on one target."""

    target: str
    domains: int
    operation: str
    mailzone_s: list[float] = field(default_factory=list)
    octodns_s: list[float] = field(default_factory=list)
    mailzone_mb: list[float] = field(default_factory=list)
    octodns_mb: list[float] = field(default_factory=list)
    mailzone_cpu_s: list[float] = field(default_factory=list)
    octodns_cpu_s: list[float] = field(default_factory=list)

    def add(self, tool: str, sample: Sample) -> None:
        """Record one run of ``tool`` (mailzone or octodns)."""
        getattr(self, f"{tool}_s").append(sample.seconds)
        getattr(self, f"{tool}_mb").append(sample.peak_mb)
        getattr(self, f"{tool}_cpu_s").append(sample.cpu_seconds)

    @staticmethod
    def _median(values: list[float]) -> float | None:
        return statistics.median(values) if values else None

    def summary(self) -> dict[str, Any]:
        """Medians (seconds), peaks (MB, max over repeats), the time ratio and the CPU ratio."""
        mz, od = self._median(self.mailzone_s), self._median(self.octodns_s)
        mz_cpu, od_cpu = self._median(self.mailzone_cpu_s), self._median(self.octodns_cpu_s)
        return {
            "target": self.target,
            "domains": self.domains,
            "operation": self.operation,
            "mailzone_s": mz,
            "octodns_s": od,
            "ratio": mz / od if mz is not None and od else None,
            "mailzone_cpu_s": mz_cpu,
            "octodns_cpu_s": od_cpu,
            "cpu_ratio": mz_cpu / od_cpu if mz_cpu is not None and od_cpu else None,
            "mailzone_peak_mb": max(self.mailzone_mb, default=None),
            "octodns_peak_mb": max(self.octodns_mb, default=None),
            "samples": asdict(self),
        }


# -- keys and specs ----------------------------------------------------------------------------


def _new_public_key(_: int) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def public_keys(count: int, cache: Path, processes: int) -> list[str]:
    """``count`` RSA-2048 public keys (base64 SPKI), made once per run and kept in ``cache``.

    Private keys are never written anywhere; ``cache`` is the run's temp dir."""
    cache.mkdir(parents=True, exist_ok=True)
    paths = [cache / f"{i:04d}.pub" for i in range(1, count + 1)]
    missing = [i for i, path in enumerate(paths) if not path.exists()]
    if missing:
        start = time.perf_counter()
        with multiprocessing.Pool(processes) as pool:
            made = pool.map(_new_public_key, missing, chunksize=8)
        for i, key in zip(missing, made, strict=True):
            paths[i].write_text(key)
        took = time.perf_counter() - start
        print(
            f"generated {len(missing)} RSA-{KEY_BITS} keys in {took:.1f} s "
            f"({len(missing) / took:.0f} keys/s on {processes} processes)",
            flush=True,
        )
    return [path.read_text() for path in paths]


def domain_name(prefix: str, index: int) -> str:
    """``m0001.example`` (mailzone) or ``o0001.example`` (octoDNS)."""
    return f"{prefix}{index:04d}.example"


def changed(index: int) -> bool:
    """Whether domain ``index`` (1-based) is among the 10% that change (at least one)."""
    return index % 10 == 1


def spec_text(domain: str, key: str, policy: str) -> str:
    """A zones/<domain>.yaml like a person would write it."""
    return (
        f"domain: {domain}\n"
        "provider: target\n"
        "ttl: 3600\n"
        "hosts:\n"
        '  - {name: mail, ipv4: [192.0.2.25], ipv6: ["2001:db8::25"]}\n'
        "dkim:\n"
        "  import:\n"
        f'    - {{selector: "{SELECTOR}", public_key: "{key}"}}\n'
        f'dmarc: {{policy: {policy}, rua: ["mailto:postmaster@{domain}"]}}\n'
    )


def write_specs(
    root: Path, prefix: str, keys: list[str], indexes: Sequence[int], policy: str
) -> None:
    """Write the specs of the given (1-based) domain indexes with this DMARC policy."""
    zones = root / "zones"
    zones.mkdir(parents=True, exist_ok=True)
    for index in indexes:
        domain = domain_name(prefix, index)
        (zones / f"{domain}.yaml").write_text(spec_text(domain, keys[index - 1], policy))


def write_provider(root: Path, server: DnsServer) -> None:
    """providers/target.yaml: the server's octoDNS provider block as YAML."""
    (root / "providers").mkdir(parents=True, exist_ok=True)
    (root / "providers" / "target.yaml").write_text(
        yaml.safe_dump(server.provider_config(), sort_keys=False)
    )


# -- the same records as an octoDNS YamlProvider source ----------------------------------------


def octodns_record(record: DesiredRecord) -> dict[str, Any]:
    """One mailzone record in octoDNS YAML form (`values` are already unquoted, unchunked)."""
    data: dict[str, Any] = {"type": record.type, "ttl": record.ttl}
    if record.type == "TXT":
        # unquoted and joined (octoDNS and the servers chunk long values), `;` escaped
        values: list[Any] = [v.replace(";", "\\;") for v in record.values]
    elif record.type == "MX":
        values = []
        for value in record.values:
            preference, exchange = value.split()
            values.append({"preference": int(preference), "exchange": exchange})
    elif record.type in ("A", "AAAA", "CNAME", "NS"):
        values = list(record.values)
    else:
        raise BenchError(f"no octoDNS YAML form for {record.type} records in this benchmark")
    if len(values) == 1:
        data["value"] = values[0]
    else:
        data["values"] = values
    return data


def write_octodns_zones(spec_root: Path, out_dir: Path, indexes: Sequence[int]) -> None:
    """config/<zone>.yaml for the given domains, from mailzone's own expansion of their specs."""
    from octodns.yaml import safe_dump

    out_dir.mkdir(parents=True, exist_ok=True)
    names = [domain_name("o", i) for i in indexes]
    project = load_project(spec_root, names)
    for name in names:
        domain = project.domains[name]
        by_name: dict[str, list[dict[str, Any]]] = {}
        for record in domain.records:
            by_name.setdefault(record.name, []).append(octodns_record(record))
        data = {k: v[0] if len(v) == 1 else v for k, v in by_name.items()}
        with (out_dir / f"{domain.zone}.yaml").open("w") as fh:
            safe_dump(data, fh)


def write_octodns_config(path: Path, zones_dir: Path, server: DnsServer, count: int) -> None:
    """The octoDNS config: YamlProvider source, the server as target, one entry per zone."""
    target = server.provider_config()
    target["root_ns_warnings"] = False  # the test zones' NS is not in the YAML on purpose
    config = {
        "providers": {
            "config": {"class": "octodns.provider.yaml.YamlProvider", "directory": str(zones_dir)},
            "target": target,
        },
        "zones": {
            f"{domain_name('o', i)}.": {"sources": ["config"], "targets": ["target"]}
            for i in range(1, count + 1)
        },
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def octodns_changes(sample: Sample) -> tuple[int, int]:
    """(zones with changes, changes) from octodns-sync's plan output (logged to stderr)."""
    found = _SUMMARY.findall(sample.stdout + sample.stderr)
    if not found and "No changes were planned" not in sample.stdout + sample.stderr:
        raise BenchError("octodns-sync printed no plan:\n" + sample.stderr[-2000:])
    return len(found), sum(int(c) + int(u) + int(d) for c, u, d in found)


# -- one target at one size ---------------------------------------------------------------------


@contextmanager
def started(kind: str, prefix: str, count: int, timings: list[float]) -> Iterator[DnsServer]:
    """A fresh server serving ``count`` empty zones; its start time is appended to ``timings``."""
    zones = [domain_name(prefix, i) for i in range(1, count + 1)]
    begin = time.perf_counter()
    server = SERVERS[kind](start_timeout=max(30.0, count * 0.1)).start(zones)
    timings.append(time.perf_counter() - begin)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Case:
    """Paths and commands of one target at one size."""

    kind: str
    count: int
    work: Path
    keys: list[str]
    jobs: int | None

    @property
    def mz_root(self) -> Path:
        return self.work / "mailzone"

    @property
    def od_specs(self) -> Path:
        return self.work / "octodns-specs"  # specs only used to derive the octoDNS YAML

    @property
    def od_zones(self) -> Path:
        return self.work / "octodns" / "config"

    @property
    def od_config(self) -> Path:
        return self.work / "octodns" / "octodns.yaml"

    def log(self, name: str) -> Path:
        return self.work / "logs" / name

    def mailzone(self, *args: str, jobs: int | None = None) -> list[str]:
        argv = [MAILZONE, "--root", str(self.mz_root), *args]
        jobs = jobs if jobs is not None else self.jobs
        return [*argv, "--jobs", str(jobs)] if jobs is not None else argv

    def octodns(self, doit: bool) -> list[str]:
        return [OCTODNS_SYNC, "--config-file", str(self.od_config), *(["--doit"] if doit else [])]

    def prepare(self) -> None:
        """Write the specs and the octoDNS YAML of every domain (DMARC p=none)."""
        everything = range(1, self.count + 1)
        write_specs(self.mz_root, "m", self.keys, everything, "none")
        (self.mz_root / "state").mkdir(exist_ok=True)
        write_specs(self.od_specs, "o", self.keys, everything, "none")
        write_octodns_zones(self.od_specs, self.od_zones, everything)

    def set_policy(self, policy: str) -> None:
        """The 10% change, in both the mailzone specs and the octoDNS YAML."""
        indexes = [i for i in range(1, self.count + 1) if changed(i)]
        write_specs(self.mz_root, "m", self.keys, indexes, policy)
        write_specs(self.od_specs, "o", self.keys, indexes, policy)
        write_octodns_zones(self.od_specs, self.od_zones, indexes)


def run_case(
    kind: str,
    count: int,
    keys: list[str],
    repeat: int,
    work: Path,
    jobs: int | None,
    compare_jobs: int | None = None,
) -> tuple[list[Row], dict[str, Any]]:
    """Every operation for one target and one number of domains."""
    case = Case(kind, count, work, keys, jobs)
    n_changed = sum(1 for i in range(1, count + 1) if changed(i))
    case.prepare()
    other_jobs = f"plan, no-op --jobs {compare_jobs}"
    operations = [*OPERATIONS, *([other_jobs] if compare_jobs else [])]
    rows = {op: Row(kind, count, op) for op in operations}
    starts: list[float] = []
    cwd = work

    def mz(op: str, argv: list[str], codes: Sequence[int], tag: str) -> Sample:
        sample = expect(
            run_measured(argv, cwd, case.log(tag)), codes, f"{kind} N={count} mailzone {op}"
        )
        rows[op].add("mailzone", sample)
        return sample

    def od(op: str, doit: bool, tag: str, zones: int) -> Sample:
        sample = expect(
            run_measured(case.octodns(doit), cwd, case.log(tag)),
            [0],
            f"{kind} N={count} octodns-sync {op}",
        )
        with_changes, _ = octodns_changes(sample)
        if with_changes != zones:
            raise BenchError(
                f"{kind} N={count} octodns-sync {op}: {with_changes} zones with changes, "
                f"expected {zones}; see {case.log(tag).with_suffix('.err')}"
            )
        rows[op].add("octodns", sample)
        return sample

    def both(
        op: str, mz_args: list[str], mz_codes: list[int], zones: int, tag: str, turn: int
    ) -> None:
        """One run of each tool; who goes first alternates, so a warm cache or a busy core
        favours neither. ``zones``: how many zones octoDNS must plan changes for."""
        doit = mz_args[0] == "apply"
        steps = (
            lambda: mz(op, case.mailzone(*mz_args), mz_codes, f"{tag}-{turn}-mz"),
            lambda: od(op, doit, f"{tag}-{turn}-od", zones),
        )
        for step in steps if turn % 2 == 0 else steps[::-1]:
            step()

    for r in range(repeat):
        with (
            started(kind, "m", count, starts) as mz_server,
            started(kind, "o", count, starts) as od_server,
        ):
            write_provider(case.mz_root, mz_server)
            write_octodns_config(case.od_config, case.od_zones, od_server, count)
            shutil.rmtree(case.mz_root / "build", ignore_errors=True)
            both("first apply", ["apply", "--yes"], [0], count, "apply", r)
            if r < repeat - 1:
                continue
            # correctness right after the first apply: each no-op plan run fails the benchmark
            # unless mailzone's `plan --exit-code` exits 0 and octodns-sync plans 0 zones
            for p in range(repeat):
                both("plan, no-op", ["plan", "--exit-code"], [0], 0, "noop", p)
            if compare_jobs:
                for p in range(repeat):
                    argv = case.mailzone("plan", "--exit-code", jobs=compare_jobs)
                    mz(other_jobs, argv, [0], f"noop-jobs{compare_jobs}-{p}-mz")
                rows[other_jobs].octodns_s = list(rows["plan, no-op"].octodns_s)
                rows[other_jobs].octodns_mb = list(rows["plan, no-op"].octodns_mb)
                rows[other_jobs].octodns_cpu_s = list(rows["plan, no-op"].octodns_cpu_s)
            case.set_policy("quarantine")
            for p in range(repeat):
                both("plan, 10% changed", ["plan", "--exit-code"], [2], n_changed, "plan10", p)
            for p in range(repeat):
                if p:  # every repeat applies the same amount: back and forth
                    case.set_policy("quarantine" if p % 2 == 0 else "none")
                both("apply, 10% changed", ["apply", "--yes"], [0], n_changed, "apply10", p)
            # and after the back-and-forth 10% applies (each apply was checked to change 10%)
            check = run_measured(case.mailzone("plan", "--exit-code"), cwd, case.log("check2-mz"))
            expect(check, [0], f"{kind} N={count}: mailzone plan --exit-code after the 10% apply")
            check = expect(
                run_measured(case.octodns(False), cwd, case.log("check2-od")), [0], "octodns-sync"
            )
            if octodns_changes(check)[0]:
                raise BenchError(
                    f"{kind} N={count}: octodns-sync plans changes after its 10% apply"
                )
    server_start = {"server_start_s_median": statistics.median(starts), "server_start_s": starts}
    return list(rows.values()), server_start


# -- output ------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(
    kind: str, summaries: list[dict[str, Any]], starts: dict[int, dict[str, Any]]
) -> None:
    """The per-target table."""
    header = (
        "N",
        "operation",
        "mailzone s",
        "octoDNS s",
        "ratio",
        "cpu ratio",
        "mz peak MB",
        "oct peak MB",
    )
    lines = [header]
    for s in summaries:
        lines.append(
            (
                str(s["domains"]),
                s["operation"],
                _fmt(s["mailzone_s"]),
                _fmt(s["octodns_s"]),
                _fmt(s["ratio"]),
                _fmt(s["cpu_ratio"]),
                _fmt(s["mailzone_peak_mb"], 0),
                _fmt(s["octodns_peak_mb"], 0),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print(f"\n== {kind} ==")
    for n, line in enumerate(lines):
        cells = [
            c.ljust(w) if i == 1 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(cells))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    for count, info in sorted(starts.items()):
        print(
            f"server start with {count} zones: {info['server_start_s_median']:.2f} s (median, not timed above)"
        )


def versions() -> dict[str, str]:
    return measure_versions(
        ("octodns", "octodns-bind", "octodns-powerdns", "dnspython", "pydantic"), REPO
    )


def use_pycache(prefix: Path) -> None:
    """Let the measured tools keep compiled bytecode (in ``prefix``) and compile it now.

    With PYTHONDONTWRITEBYTECODE set (as in some sandboxes) an editable mailzone recompiles
    its own modules on every run while octoDNS's installed modules have .pyc files; that
    penalises mailzone by a few tens of ms per run, which no installed copy pays. The prefix
    keeps the .pyc files out of the source tree; -I in the wrapper keeps it from the wrapper."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(prefix)
    modules = ", ".join(WARM_MODULES)
    subprocess.run([sys.executable, "-c", f"import {modules}"], check=True)


def help_figures(repeat: int, work: Path) -> dict[str, Any]:
    """`mailzone --help` and `octodns-sync --help`: startup cost alone."""
    out: dict[str, Any] = {}
    for tool, argv in (("mailzone", [MAILZONE, "--help"]), ("octodns", [OCTODNS_SYNC, "--help"])):
        samples = [
            expect(
                run_measured(argv, work, work / "logs" / f"help-{tool}-{i}"), [0], f"{tool} --help"
            )
            for i in range(max(repeat, 5))
        ]
        out[tool] = {
            "median_s": statistics.median(s.seconds for s in samples),
            "peak_mb": max(s.peak_mb for s in samples),
            "samples_s": [s.seconds for s in samples],
        }
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--domains", default="1,100,1000", help="numbers of domains (default 1,100,1000)"
    )
    parser.add_argument("--targets", default="bind,powerdns", help="bind and/or powerdns")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per operation; medians are shown"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="pass --jobs N to mailzone plan/apply (default: its own default)",
    )
    parser.add_argument(
        "--compare-jobs",
        type=int,
        default=None,
        metavar="J",
        help="also time mailzone's no-op plan with --jobs J (e.g. 1)",
    )
    parser.add_argument(
        "--no-pycache",
        action="store_true",
        help="run the tools with this environment's bytecode settings as they are (by default "
        "the children write and reuse .pyc files under the work dir, like an installed tool)",
    )
    parser.add_argument("--keygen-processes", type=int, default=2, help="processes generating keys")
    parser.add_argument(
        "--json", type=Path, default=None, help="also write all figures to this file"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work dir (specs, YAML, logs)")
    args = parser.parse_args(argv)
    args.sizes = sorted({int(n) for n in args.domains.split(",") if n.strip()})
    args.kinds = target_kinds(parser, args.targets)
    if not args.sizes or min(args.sizes) < 1 or max(args.sizes) > 9999:
        parser.error("--domains: numbers between 1 and 9999")
    if args.repeat < 1:
        parser.error("--repeat: at least 1")
    return args


def target_kinds(parser: argparse.ArgumentParser, targets: str) -> list[str]:
    """`--targets bind,powerdns` as a list; an unknown one is a usage error."""
    kinds = [t.strip() for t in targets.split(",") if t.strip()]
    for kind in kinds:
        if kind not in SERVERS:
            parser.error(f"--targets: unknown target '{kind}' (bind, powerdns)")
    return kinds


def require_servers(kinds: Sequence[str]) -> None:
    """Stop when a target's server is not installed."""
    for kind in kinds:
        if find_binary(SERVERS[kind].binary) is None:
            raise SystemExit(
                f"{SERVERS[kind].binary} is not installed (needed for --targets {kind})"
            )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    require_servers(args.kinds)
    for tool in (MAILZONE, OCTODNS_SYNC):
        if not Path(tool).exists():
            raise SystemExit(
                f"{tool} not found: install mailzone (pip install -e .) in this Python"
            )
    work = Path(tempfile.mkdtemp(prefix="mailzone-bench-"))
    began = time.perf_counter()
    if not args.no_pycache:
        use_pycache(work / "pycache")
    results: dict[str, Any] = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "repeat": args.repeat,
        "mailzone_jobs": args.jobs,
        "pycache": not args.no_pycache,
        "versions": versions(),
        "targets": {},
    }
    print(f"measuring mailzone {results['versions']['mailzone']} in {work}", flush=True)
    try:
        keys = public_keys(max(args.sizes), work / "keys", args.keygen_processes)
        results["help"] = help_figures(args.repeat, work)
        for kind in args.kinds:
            summaries: list[dict[str, Any]] = []
            starts: dict[int, dict[str, Any]] = {}
            for count in args.sizes:
                t0 = time.perf_counter()
                rows, starts[count] = run_case(
                    kind,
                    count,
                    keys,
                    args.repeat,
                    work / f"{kind}-{count}",
                    args.jobs,
                    args.compare_jobs,
                )
                summaries += [row.summary() for row in rows]
                print(f"{kind} N={count}: done in {time.perf_counter() - t0:.0f} s", flush=True)
            results["targets"][kind] = {"rows": summaries, "server_start": starts}
            print_table(kind, summaries, starts)
    except BenchError as err:
        print(f"\nBENCHMARK FAILED: {err}\n(work dir kept: {work})", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work / "keys", ignore_errors=True)
    results["total_s"] = time.perf_counter() - began
    help_mz = results["help"]["mailzone"]["median_s"]
    print(
        f"\nmailzone --help: {help_mz:.3f} s (goal <= {GOAL_HELP_S} s: "
        f"{'met' if help_mz <= GOAL_HELP_S else 'NOT met'}); "
        f"octodns-sync --help: {results['help']['octodns']['median_s']:.3f} s"
    )
    misses = [
        f"{s['target']} N={s['domains']} {s['operation']}: {s['ratio']:.2f}"
        for t in results["targets"].values()
        for s in t["rows"]
        if s["domains"] in GOAL_SIZES
        and s["operation"] in GOAL_OPERATIONS
        and (s["ratio"] or 0) > GOAL_RATIO
    ]
    measured = sorted(
        {s["domains"] for t in results["targets"].values() for s in t["rows"]} & set(GOAL_SIZES)
    )
    results["goal"] = {
        "ratio_max": GOAL_RATIO,
        "sizes": measured,
        "met": not misses,
        "misses": misses,
    }
    if not measured:
        verdict = "not measured (needs 100 and/or 1000 domains)"
    elif misses:
        verdict = "NOT met: " + "; ".join(misses)
    else:
        verdict = "met"
    print(
        f"goal: mailzone/octoDNS time ratio <= {GOAL_RATIO} for {', '.join(GOAL_OPERATIONS)} "
        f"at {', '.join(map(str, GOAL_SIZES))} domains (measured: {', '.join(map(str, measured)) or 'none'}): {verdict}"
    )
    finish(results, args.json, args.keep, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
