"""Benchmark: `mailzone check` over many domains versus checkdmarc, both asking one local BIND.

N domains (default 1000), each in its own zone on one BIND9 on 127.0.0.1 (``tests/servers.py``),
like an operator's customers: they share H mail hosts (default N/100, ``mxK.hosting.test.``,
IPv4 and IPv6, roles mx + send). Each zone holds exactly what ``mailzone records`` gives for its
spec (``load_project()`` → ``Domain.records`` → ``zone_lines()``), written as zone files (much
faster than ``mailzone apply``); the state of each domain has one active RSA-2048 selector whose
public key is its own. Around them: ``hosting.test`` (the hosts' A/AAAA), the reverse zones with
forward-confirming PTRs, and a blocklist ``bl.test`` (only its RFC 5782 test entry 127.0.0.2;
``--listed`` also lists host 1's IPv4).

Then, in the same run and against the same BIND, alternating who goes first:

* ``mailzone check --skip smtp --skip https --nameserver 127.0.0.1:PORT --blocklist bl.test
  --format json`` over all N domains, as a subprocess (default ``--processes``, and
  ``--processes 1``); the provider file's ``mailzone: nameservers`` names the same BIND, so the
  drift check asks it too;
* checkdmarc 6 in a subprocess: per domain ``check_soa``, ``check_ns``, ``check_mx`` (no TLS
  probe; its DNSSEC and TLSA lookups of the MX hosts stubbed out unless
  ``--checkdmarc-dnssec``), ``check_spf``, ``check_dmarc`` (what ``check_domains`` runs minus
  DNSSEC, MTA-STS, SMTP TLS reporting and BIMI), one domain after the other as
  ``check_domains`` does, with ``nameservers=[Do53Nameserver("127.0.0.1", PORT)]`` (a
  ``Nameserver`` object carries the port; plain strings would mean port 53).

Both subprocesses run under a loopback guard (a generated ``sitecustomize.py``): any connect,
send or name lookup that would leave 127.0.0.0/8 is refused and logged, and the run fails.
Queries are counted by BIND (statistics channel, JSON) and, with its query log, the distinct
questions (name, type) of each run, so a question asked twice shows. Not a test; see
bench/README.md.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from measure import finish, measure  # noqa: E402  (bench/measure.py)
from measure import versions as measure_versions  # noqa: E402
from reconcile import public_keys  # noqa: E402

from mailzone.repo.project import load_project  # noqa: E402
from mailzone.repo.state import save_state  # noqa: E402
from mailzone.spec import dkim_key  # noqa: E402
from mailzone.spec.state import DomainState, SelectorState  # noqa: E402
from tests.servers import (  # noqa: E402
    LOOPBACK,
    SOA_MINIMUM,
    TEST_NS,
    BindServer,
    absolute,
    find_binary,
    free_port,
)

BIN = Path(sys.executable).parent  # the real entry point, not a pyenv shim
MAILZONE = str(BIN / "mailzone")
SELECTOR = "20260101"
HOSTING = "hosting.test"
BLOCKLIST = "bl.test"
REVERSE4 = "100.51.198.in-addr.arpa"
REVERSE6 = "0.0.1.0.8.b.d.0.1.0.0.2.ip6.arpa"  # 2001:db8:100::/48
GOAL_SECONDS = 5.0  # 1000 domains on 2 cores
GOAL_DOMAINS = 1000
GOAL_RATIO = 3.0  # checkdmarc time / mailzone time
GOAL_RATIO_ONE = 3.5  # the same with `--processes 1` (issue 14), in wall and in CPU time
CHECKDMARC = "checkdmarc"
MZ_DEFAULT = "mailzone"
MZ_ONE = "mailzone --processes 1"
WARM_MODULES = ("mailzone.cli.app", "mailzone.cli.check", "mailzone.check.runner", "checkdmarc")


class BenchError(RuntimeError):
    """A run failed or did not do the work it should."""


# -- the loopback guard, loaded by every measured process ---------------------------------------

_SITECUSTOMIZE = """
import ipaddress as _ip, os as _os, socket as _socket
_LOG = _os.environ.get("MAILZONE_BENCH_GUARD")

def _loopback(address):
    if not isinstance(address, tuple):
        return True  # AF_UNIX path
    host = str(address[0]).split("%")[0]
    if host in ("localhost", "localhost."):
        return True
    try:
        return _ip.ip_address(host).is_loopback
    except ValueError:
        return False

def _note(what):
    with open(_LOG, "a") as fh:
        fh.write(f"{_os.getpid()} {what}\\n")

def _wrap(name):
    original = getattr(_socket.socket, name)
    def guarded(self, *args):
        address = args[-1] if args else None
        if name == "sendmsg" and len(args) < 4:
            address = None
        if address is not None and not _loopback(address):
            _note(f"{name} {address!r}")
            raise OSError(f"loopback guard: {name} to {address!r} refused")
        return original(self, *args)
    setattr(_socket.socket, name, guarded)

if _LOG:
    for _name in ("connect", "connect_ex", "sendto", "sendmsg"):
        _wrap(_name)
    _getaddrinfo = _socket.getaddrinfo
    def _guarded_getaddrinfo(host, *args, **kwargs):
        if host is not None and not _loopback((host,)):
            _note(f"getaddrinfo {host!r}")
            raise _socket.gaierror(f"loopback guard: lookup of {host!r} refused")
        return _getaddrinfo(host, *args, **kwargs)
    _socket.getaddrinfo = _guarded_getaddrinfo
"""


# The checkdmarc side: what `check_domains` does per domain, minus DNSSEC, MTA-STS, SMTP TLS
# reporting, BIMI and the MX TLS probe (check_mx_tls=False is checkdmarc's default).
_CHECKDMARC_RUNNER = """
import json, sys
from dns.nameserver import Do53Nameserver
from checkdmarc import check_ns
from checkdmarc.dmarc import check_dmarc
from checkdmarc.smtp import check_mx
from checkdmarc.soa import check_soa
from checkdmarc.spf import check_spf

import checkdmarc.smtp

port, names, out = int(sys.argv[1]), open(sys.argv[2]).read().split(), sys.argv[3]
if sys.argv[4] == "no-dnssec":  # check_mx always asks DS/DNSKEY and TLSA of each MX host
    checkdmarc.smtp.check_dnssec = lambda *args, **kwargs: False
    checkdmarc.smtp.get_tlsa_records = lambda *args, **kwargs: []
ns = [Do53Nameserver("127.0.0.1", port)]
summary = {"domains": 0, "spf_valid": 0, "dmarc_valid": 0, "mx_hosts": 0, "soa_ok": 0, "ns": 0}
for name in names:
    soa = check_soa(name, nameservers=ns)
    nss = check_ns(name, nameservers=ns)
    mx = check_mx(name, nameservers=ns, check_mx_tls=False)
    spf = check_spf(name, nameservers=ns)
    dmarc = check_dmarc(name, nameservers=ns)
    summary["domains"] += 1
    summary["soa_ok"] += "error" not in soa
    summary["ns"] += bool(nss.get("hostnames"))
    summary["mx_hosts"] += len(mx.get("hosts", []))
    summary["spf_valid"] += bool(spf.get("valid"))
    summary["dmarc_valid"] += bool(dmarc.get("valid"))
with open(out, "w") as fh:
    json.dump(summary, fh)
"""


# -- the server ----------------------------------------------------------------------------------


class StatsBind(BindServer):
    """BIND serving given zone files, with a JSON statistics channel and a query log."""

    def __init__(self, texts: dict[str, str], querylog: bool, start_timeout: float) -> None:
        super().__init__(start_timeout)
        self.texts = {absolute(zone): text for zone, text in texts.items()}
        self.querylog = querylog
        self.stats_port = 0

    def _prepare(self, workdir: Path) -> list[str]:
        self.stats_port = free_port()
        return super()._prepare(workdir)

    def _write_config(self, workdir: Path) -> None:
        for zone in self.zones:
            path = self._zone_file(workdir, zone)
            if not path.exists():
                path.write_text(self.texts.get(zone) or zone_text(zone, []))
        (workdir / "named.conf").write_text(self._named_conf(workdir))

    def _named_conf(self, workdir: Path) -> str:
        conf = super()._named_conf(workdir)
        conf += (
            f"statistics-channels {{ inet {LOOPBACK} port {self.stats_port} "
            f"allow {{ {LOOPBACK}; }}; }};\n"
        )
        if self.querylog:  # named -g logs everything to stderr: the server log
            conf = conf.replace("options {\n", "options {\n  querylog yes;\n", 1)
        return conf

    @property
    def query_log(self) -> Path:
        return self.log_path

    def cpu_seconds(self) -> float:
        """named's user + system CPU so far (from /proc)."""
        if self._process is None:
            return 0.0
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def queries(self) -> int:
        """Queries received so far (every opcode QUERY, UDP and TCP)."""
        url = f"http://{LOOPBACK}:{self.stats_port}/json/v1/server"
        with urllib.request.urlopen(url, timeout=5) as response:
            data = json.load(response)
        return int(data.get("opcodes", {}).get("QUERY", 0))


def zone_text(zone: str, lines: Sequence[str]) -> str:
    zone = absolute(zone)
    head = (
        f"$ORIGIN {zone}\n$TTL {SOA_MINIMUM}\n"
        f"@ IN SOA {TEST_NS} hostmaster.test.invalid. 1 3600 600 86400 {SOA_MINIMUM}\n"
        f"@ IN NS {TEST_NS}\n"
    )
    return head + "".join(f"{line}\n" for line in lines)


_QUERY_LINE = re.compile(r"query: (\S+) IN (\S+) ")


def questions(log: Path, start: int) -> tuple[int, int, Counter[str]]:
    """From byte ``start`` of the query log: (queries, distinct (name, type), per type)."""
    with log.open("rb") as fh:
        fh.seek(start)
        text = fh.read().decode(errors="replace")
    seen: Counter[tuple[str, str]] = Counter()
    for match in _QUERY_LINE.finditer(text):
        seen[(match.group(1).lower().rstrip("."), match.group(2))] += 1
    per_type: Counter[str] = Counter()
    for (_, rdtype), n in seen.items():
        per_type[rdtype] += n
    return sum(seen.values()), len(seen), per_type


# -- the repository --------------------------------------------------------------------------------


def domain_name(index: int) -> str:
    return f"c{index:04d}.example"


@dataclass(frozen=True)
class MailHost:
    index: int

    @property
    def name(self) -> str:
        return f"mx{self.index}.{HOSTING}"

    @property
    def ipv4(self) -> str:
        return f"198.51.100.{self.index}"

    @property
    def ipv6(self) -> str:
        return f"2001:db8:100::{self.index:x}"


def host_of(index: int, hosts: int) -> MailHost:
    return MailHost((index - 1) % hosts + 1)


def spec_text(domain: str, host: MailHost) -> str:
    """zones/<domain>.yaml: the customer's domain on a shared mail host."""
    return (
        f"domain: {domain}\n"
        "provider: bind\n"
        "ttl: 3600\n"
        "hosts:\n"
        f'  - {{name: {host.name}., ipv4: [{host.ipv4}], ipv6: ["{host.ipv6}"], '
        "roles: [mx, send]}\n"
        f'dmarc: {{policy: reject, rua: ["mailto:dmarc@{domain}"]}}\n'
    )


def state_for(domain: str, public_b64: str) -> DomainState:
    key = dkim_key.parse_public_key(public_b64)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    entry = SelectorState(
        selector=SELECTOR,
        algorithm=key.algorithm,
        bits=key.bits,
        public_key=key.p,
        fingerprint=key.fingerprint,
        phase="active",
        created=when,
        changed=when,
        switched=when,
    )
    return DomainState(domain=domain, selectors=[entry])


def write_repository(root: Path, count: int, hosts: int, public: list[str]) -> None:
    (root / "zones").mkdir(parents=True)
    for i in range(1, count + 1):
        domain = domain_name(i)
        (root / "zones" / f"{domain}.yaml").write_text(spec_text(domain, host_of(i, hosts)))
        save_state(root, state_for(domain, public[i - 1]))


def write_provider(root: Path, server: BindServer) -> None:
    config = server.provider_config()
    config["mailzone"] = {"nameservers": [f"{LOOPBACK}:{server.port}"]}
    (root / "providers").mkdir(parents=True, exist_ok=True)
    (root / "providers" / "bind.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def zone_files(root: Path, hosts: int, listed: bool) -> dict[str, str]:
    """Every zone as zone-file text: each domain's records as `mailzone records` prints them,
    the hosts, the reverse zones and the blocklist."""
    texts: dict[str, str] = {}
    for domain in load_project(root).select():
        lines = [line for r in domain.records for line in r.zone_lines(domain.zone)]
        texts[domain.zone] = zone_text(domain.zone, lines)
    all_hosts = [MailHost(k) for k in range(1, hosts + 1)]
    texts[HOSTING] = zone_text(
        HOSTING,
        [f"{h.name}. A {h.ipv4}" for h in all_hosts]
        + [f"{h.name}. AAAA {h.ipv6}" for h in all_hosts],
    )
    texts[REVERSE4] = zone_text(
        REVERSE4,
        [f"{ipaddress.ip_address(h.ipv4).reverse_pointer}. PTR {h.name}." for h in all_hosts],
    )
    texts[REVERSE6] = zone_text(
        REVERSE6,
        [f"{ipaddress.ip_address(h.ipv6).reverse_pointer}. PTR {h.name}." for h in all_hosts],
    )
    # RFC 5782 section 5: every DNSBL lists 127.0.0.2 (mailzone checks that the list works)
    blocked = ["2.0.0.127 A 127.0.0.2", '2.0.0.127 TXT "RFC 5782 test entry"']
    if listed:
        owner = ipaddress.ip_address(MailHost(1).ipv4).reverse_pointer.rsplit(".", 2)[0]
        blocked += [f"{owner} A 127.0.0.2", f'{owner} TXT "listed (bench)"']
    texts[BLOCKLIST] = zone_text(BLOCKLIST, blocked)
    return texts


# -- measuring -------------------------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float
    cpu_seconds: float
    server_cpu_seconds: float
    queries: int
    distinct: int | None
    per_type: dict[str, int]
    returncode: int


@dataclass
class Tool:
    name: str
    samples: list[Sample] = field(default_factory=list)

    def summary(self, count: int) -> dict[str, Any]:
        seconds = statistics.median(s.seconds for s in self.samples)
        queries = statistics.median(s.queries for s in self.samples)
        distinct = [s.distinct for s in self.samples if s.distinct is not None]
        return {
            "tool": self.name,
            "seconds": seconds,
            "domains_per_s": count / seconds,
            "cpu_seconds": statistics.median(s.cpu_seconds for s in self.samples),
            "bind_cpu_seconds": statistics.median(s.server_cpu_seconds for s in self.samples),
            "queries": queries,
            "queries_per_domain": queries / count,
            "distinct": statistics.median(distinct) if distinct else None,
            "repeated": statistics.median(s.queries - (s.distinct or 0) for s in self.samples)
            if distinct
            else None,
            "per_type": self.samples[-1].per_type,
            "samples_s": [s.seconds for s in self.samples],
        }


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path, server: StatsBind) -> None:
        self.args = args
        self.work = work
        self.server = server
        self.root = work / "repo"
        self.hook = work / "hook"
        self.guard_log = work / "guard.log"
        self.names = work / "domains.txt"
        self.logs = work / "logs"
        self.logs.mkdir(exist_ok=True)

    def measured(self, argv: list[str], tag: str) -> tuple[float, int, float, str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.hook), env.get("PYTHONPATH")]))
        env["MAILZONE_BENCH_GUARD"] = str(self.guard_log)
        run = measure(argv, self.root, self.logs, tag, env)
        return run.seconds, run.returncode, run.cpu_seconds, run.stdout, run.stderr

    def run(self, tool: str, tag: str) -> Sample:
        before = self.server.queries()
        server_cpu = self.server.cpu_seconds()
        log_at = self.server.query_log.stat().st_size if self.args.querylog else 0
        if tool == CHECKDMARC:
            result = self.work / f"{tag}.json"
            argv = [sys.executable, "-c", _CHECKDMARC_RUNNER, str(self.server.port)]
            argv += [str(self.names), str(result), "dnssec" if self.args.dnssec else "no-dnssec"]
        else:
            argv = [MAILZONE, "--root", str(self.root), "check", "--skip", "smtp"]
            argv += ["--skip", "https", "--nameserver", f"{LOOPBACK}:{self.server.port}"]
            argv += ["--blocklist", BLOCKLIST, "--format", "json"]
            if tool == MZ_ONE:
                argv += ["--processes", "1"]
        seconds, code, cpu, out, err = self.measured(argv, tag)
        time.sleep(0.05)  # let BIND finish logging the last answers
        queries = self.server.queries() - before
        server_cpu = self.server.cpu_seconds() - server_cpu
        distinct: int | None = None
        per_type: dict[str, int] = {}
        if self.args.querylog:
            logged, distinct, types = questions(self.server.query_log, log_at)
            per_type = dict(types)
            if logged != queries:
                print(f"  note: {tag}: query log {logged}, statistics {queries}", flush=True)
        if tool == CHECKDMARC:
            self.verify_checkdmarc(code, err, result)
        else:
            self.verify_mailzone(code, out, err, tag)
        blocked = self.guard_log.read_text()
        if blocked:
            raise BenchError(f"{tag}: a socket would have left 127.0.0.1:\n{blocked}")
        return Sample(seconds, cpu, server_cpu, queries, distinct, per_type, code)

    def verify_mailzone(self, code: int, out: str, err: str, tag: str) -> None:
        expected = 3 if self.args.listed else 0
        if code != expected:
            raise BenchError(f"{tag}: exit {code}, expected {expected}\n{err[-3000:]}")
        data = json.loads(out)
        reports = data["domains"]
        if len(reports) != self.args.domains:
            raise BenchError(f"{tag}: {len(reports)} domain reports, expected {self.args.domains}")
        listed_ip = MailHost(1).ipv4
        families: set[str] = set()
        for report in reports:
            for finding in report["findings"]:
                families.add(finding["check"])
                ok = finding["status"] == "pass" or (
                    self.args.listed
                    and finding["check"] == "blocklist"
                    and finding["status"] == "fail"
                    and finding["subject"].startswith(f"{listed_ip} ")
                )
                if not ok:
                    raise BenchError(f"{tag}: {report['domain']}: unexpected finding {finding}")
        want = {"drift", "spf", "dkim", "dmarc", "mx", "rdns", "blocklist"}
        if families != want:
            raise BenchError(f"{tag}: families {sorted(families)}, expected {sorted(want)}")

    def verify_checkdmarc(self, code: int, err: str, result: Path) -> None:
        if code != 0 or not result.exists():
            raise BenchError(f"checkdmarc: exit {code}\n{err[-3000:]}")
        summary = json.loads(result.read_text())
        n = self.args.domains
        want = {"domains": n, "spf_valid": n, "dmarc_valid": n, "mx_hosts": n, "soa_ok": n}
        got = {k: summary[k] for k in want}
        if got != want:
            raise BenchError(f"checkdmarc did not see the records as served: {summary}")


def profile(bench: Bench, out: Path) -> None:
    """cProfile of `mailzone check --processes 1` (threads: cProfile sees the main thread only,
    so `--jobs 1`)."""
    argv = [sys.executable, "-m", "cProfile", "-o", str(out), MAILZONE, "--root", str(bench.root)]
    argv += ["check", "--skip", "smtp", "--skip", "https", "--nameserver"]
    argv += [f"{LOOPBACK}:{bench.server.port}", "--blocklist", BLOCKLIST, "--format", "json"]
    argv += ["--processes", "1", "--jobs", "1"]
    seconds, code, _, _, _ = bench.measured(argv, "profile")
    print(f"\nprofile (--processes 1 --jobs 1, under cProfile): {seconds:.2f} s, exit {code}")
    import pstats

    stats = pstats.Stats(str(out))
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(25)


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--domains", type=int, default=1000, help="number of domains (1000)")
    parser.add_argument("--hosts", type=int, default=0, help="shared mail hosts (N/100, >= 1)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool; medians shown")
    parser.add_argument("--listed", action="store_true", help="bl.test lists host 1's IPv4")
    parser.add_argument(
        "--no-querylog",
        dest="querylog",
        action="store_false",
        help="no BIND query log (then repeated questions are not counted)",
    )
    parser.add_argument("--no-checkdmarc", action="store_true", help="measure mailzone only")
    parser.add_argument(
        "--checkdmarc-dnssec",
        dest="dnssec",
        action="store_true",
        help="let checkdmarc's MX check ask DS/DNSKEY and TLSA of each MX host (by default "
        "they are stubbed out: mailzone checks neither)",
    )
    parser.add_argument("--profile", type=Path, help="also cProfile one mailzone run to FILE")
    parser.add_argument("--key-cache", type=Path, help="keep the public keys here (reused)")
    parser.add_argument("--json", type=Path, help="also write all figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args(argv)
    if not 1 <= args.domains <= 9999:
        parser.error("--domains: between 1 and 9999")
    args.hosts = args.hosts or max(1, args.domains // 100)
    if not 1 <= args.hosts <= 250:
        parser.error("--hosts: between 1 and 250")
    if args.repeat < 1:
        parser.error("--repeat: at least 1")
    return args


def versions() -> dict[str, str]:
    out = measure_versions(("checkdmarc", "dnspython"), REPO)
    named = subprocess.run([find_binary("named") or "named", "-v"], capture_output=True, text=True)
    out["bind"] = named.stdout.strip()
    return out


def print_table(rows: list[dict[str, Any]], count: int) -> None:
    header = (
        "tool",
        "wall s",
        "domains/s",
        "CPU s",
        "BIND CPU s",
        "queries",
        "q/domain",
        "distinct",
        "repeated",
    )
    lines = [header]
    for r in rows:
        lines.append(
            (
                r["tool"],
                f"{r['seconds']:.2f}",
                f"{r['domains_per_s']:.0f}",
                f"{r['cpu_seconds']:.2f}",
                f"{r['bind_cpu_seconds']:.2f}",
                f"{r['queries']:.0f}",
                f"{r['queries_per_domain']:.1f}",
                "-" if r["distinct"] is None else f"{r['distinct']:.0f}",
                "-" if r["repeated"] is None else f"{r['repeated']:.0f}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print(f"\n== {count} domains ==")
    for n, line in enumerate(lines):
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if find_binary("named") is None:
        raise SystemExit("named is not installed")
    work = Path(tempfile.mkdtemp(prefix="mailzone-bench-check-"))
    began = time.perf_counter()
    # compiled bytecode for every tool, as an installed tool has (see bench/README.md)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    subprocess.run([sys.executable, "-c", f"import {', '.join(WARM_MODULES)}"], check=True)
    cores = len(os.sched_getaffinity(0))
    results: dict[str, Any] = {
        "domains": args.domains,
        "hosts": args.hosts,
        "repeat": args.repeat,
        "cores": cores,
        "listed": args.listed,
        "versions": versions(),
    }
    print(f"measuring mailzone {results['versions']['mailzone']} in {work}", flush=True)
    server: StatsBind | None = None
    try:
        public = public_keys(args.domains, args.key_cache or work / "keys", 2)
        t0 = time.perf_counter()
        bench_root = work / "repo"
        write_repository(bench_root, args.domains, args.hosts, public)
        texts = zone_files(bench_root, args.hosts, args.listed)
        (work / "domains.txt").write_text(
            "\n".join(domain_name(i) for i in range(1, args.domains + 1)) + "\n"
        )
        results["setup_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        server = StatsBind(texts, args.querylog, start_timeout=max(30.0, args.domains * 0.05))
        server.start(list(texts))
        results["server_start_s"] = time.perf_counter() - t0
        print(
            f"{args.domains} domains on {args.hosts} hosts: repository and zone files "
            f"{results['setup_s']:.1f} s, BIND with {len(texts)} zones {results['server_start_s']:.1f} s",
            flush=True,
        )
        write_provider(bench_root, server)
        (work / "hook").mkdir()
        (work / "hook" / "sitecustomize.py").write_text(_SITECUSTOMIZE)
        (work / "guard.log").touch()
        bench = Bench(args, work, server)
        tools = [MZ_DEFAULT, MZ_ONE] + ([] if args.no_checkdmarc else [CHECKDMARC])
        measured = {tool: Tool(tool) for tool in tools}
        loads = [os.getloadavg()[0]]
        for r in range(args.repeat):
            order = tools if r % 2 == 0 else tools[::-1]
            for tool in order:
                tag = f"{tool.replace(' ', '').replace('-', '')}-{r}"
                sample = bench.run(tool, tag)
                measured[tool].samples.append(sample)
                print(
                    f"  {tool}: {sample.seconds:.2f} s, {sample.queries} queries"
                    + (f" ({sample.distinct} distinct)" if sample.distinct is not None else ""),
                    flush=True,
                )
            loads.append(os.getloadavg()[0])
        rows = [measured[tool].summary(args.domains) for tool in tools]
        results["tools"] = rows
        results["load_average_1min"] = loads
        print_table(rows, args.domains)
        print(
            f"1-minute load average on {cores} cores before and after each repeat: "
            + ", ".join(f"{x:.1f}" for x in loads)
            + " (above the core count, other processes took CPU from the run: compare CPU s)"
        )
        mz = rows[0]
        verdicts = []
        if args.domains == GOAL_DOMAINS:
            met = mz["seconds"] <= GOAL_SECONDS
            verdicts.append(
                f"{GOAL_DOMAINS} domains in <= {GOAL_SECONDS:.0f} s on {cores} cores: "
                f"{mz['seconds']:.2f} s, {'met' if met else 'NOT met'}"
            )
        if not args.no_checkdmarc:
            cd = rows[-1]
            ratio = cd["seconds"] / mz["seconds"]
            results["ratio"] = ratio
            results["ratio_processes_1"] = cd["seconds"] / rows[1]["seconds"]
            results["query_ratio"] = cd["queries"] / mz["queries"]
            one = rows[1]
            results["cpu_ratio_processes_1"] = cd["cpu_seconds"] / one["cpu_seconds"]
            met_one = min(results["ratio_processes_1"], results["cpu_ratio_processes_1"])
            verdicts.append(
                f"checkdmarc/mailzone time {ratio:.1f}x (goal >= {GOAL_RATIO:.0f}x: "
                f"{'met' if ratio >= GOAL_RATIO else 'NOT met'}); --processes 1: "
                f"{results['ratio_processes_1']:.1f}x in wall, "
                f"{results['cpu_ratio_processes_1']:.1f}x in CPU (goal >= {GOAL_RATIO_ONE}x: "
                f"{'met' if met_one >= GOAL_RATIO_ONE else 'NOT met'}); "
                f"queries {results['query_ratio']:.1f}x"
            )
        if args.querylog:
            repeats = {r["tool"]: r["repeated"] for r in rows}
            verdicts.append(
                "questions asked twice in one run: "
                + ", ".join(f"{tool} {n:.0f}" for tool, n in repeats.items())
            )
        for line in verdicts:
            print(line)
        results["verdicts"] = verdicts
        if args.profile:
            profile(bench, args.profile)
    except BenchError as err:
        print(f"\nBENCHMARK FAILED: {err}\n(work dir kept: {work})", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
    results["total_s"] = time.perf_counter() - began
    finish(results, args.json, args.keep, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
