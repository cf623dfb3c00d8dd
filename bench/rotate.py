"""Benchmark: `mailzone rotate` over many domains, through a whole DKIM lifecycle.

N domains (default 1000), each in its own zone on a private BIND9 (``tests/servers.py``), each
with an active RSA-2048 selector 91 days old (so a new one is due). The provider file names the
server in ``mailzone: nameservers``, so rotation's visibility check really asks BIND for every
pending selector (the built-in ``local`` provider would only read zone files). The host config
(temp dir) writes Exim's lookup file and macros block, keys 0640 for ``Debian-exim`` when that
group exists, and reloads with ``true``.

Each step is the real CLI in a subprocess (interpreter start included), with ``--now`` moving
the clock:

* ``no-op``: nothing due (reads no key, asks DNS nothing); before the rotation and after it;
* ``publish``: 1000 new RSA-2048 keys, states saved, ``--apply`` publishes them to BIND;
* ``wait``: an hour later; every pending selector is checked on BIND, none may sign yet;
* ``activate``: 25 hours later; checked again, Exim files written, reload, switch recorded;
* ``revoke``: 7 days after the switch, ``--apply`` publishes ``v=DKIM1; p=``;
* ``forget``: 30 days after, ``--apply`` removes the old records;
* ``delete keys``: the next run sees them gone from BIND and deletes the old private keys.

``--ci`` runs the DNS steps as ``rotate`` then ``mailzone apply --yes`` (two rows), as in the
git + CI setup. Key generation rates (RSA-2048 and Ed25519, one process and all cores) come from
``bench/keygen.py``. Not a test; see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import keygen  # noqa: E402
from measure import measure  # noqa: E402  (bench/measure.py)

from tests.servers import BindServer, find_binary  # noqa: E402

BIN = Path(sys.executable).parent  # the real entry point, not a pyenv shim
MAILZONE = str(BIN / "mailzone")
GOAL_PUBLISH_S = 60.0
GOAL_NOOP_S = 2.0
T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)  # when the domains' active selectors were made
OLD_SELECTOR = "20260105r"


class BenchError(RuntimeError):
    """A run failed or did not do what the step requires."""


# -- measuring ---------------------------------------------------------------------------------

# Loaded by the measured mailzone process (PYTHONPATH): at exit it writes its own peak RSS and
# the peak of its children (the key generation pool) as getrusage reports them.
_SITECUSTOMIZE = """
import atexit, os, resource
_out = os.environ.get("MAILZONE_BENCH_RUSAGE")
if _out:
    def _write():
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(_out, "w") as fh:
            fh.write(f"{me.ru_maxrss} {kids.ru_maxrss} {me.ru_utime + me.ru_stime} "
                     f"{kids.ru_utime + kids.ru_stime}")
    atexit.register(_write)
"""


@dataclass
class Sample:
    """One run of one command."""

    seconds: float
    returncode: int
    self_mb: float  # RUSAGE_SELF ru_maxrss of the mailzone process
    children_mb: float  # RUSAGE_CHILDREN ru_maxrss: its largest child (a key worker)
    cpu_s: float  # user + system, the process and its children
    stdout: str
    stderr: str


def run_measured(argv: list[str], work: Path, name: str) -> Sample:
    logs = work / "logs"
    usage = logs / f"{name}.rusage"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(work / "hook"), env.get("PYTHONPATH")]))
    env["MAILZONE_BENCH_RUSAGE"] = str(usage)
    run = measure(argv, work, logs, name, env)
    if not usage.exists():
        raise BenchError(f"{name}: the rusage hook wrote nothing ({argv})")
    me, kids, cpu_me, cpu_kids = usage.read_text().split()
    return Sample(
        seconds=run.seconds,
        returncode=run.returncode,
        self_mb=int(me) / 1024,
        children_mb=int(kids) / 1024,
        cpu_s=float(cpu_me) + float(cpu_kids),
        stdout=run.stdout,
        stderr=run.stderr,
    )


@dataclass
class Row:
    """One step: its samples and what it did."""

    step: str
    when: str
    keys_made: int = 0
    samples: list[Sample] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    def summary(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "now": self.when,
            "seconds": self.seconds,
            "runs": len(self.samples),
            "keys_made": self.keys_made,
            "keys_per_s": self.keys_made / self.seconds if self.keys_made else None,
            "self_peak_mb": max(s.self_mb for s in self.samples),
            "children_peak_mb": max(s.children_mb for s in self.samples),
            "cpu_s": statistics.median(s.cpu_s for s in self.samples),
            "samples": [
                {k: v for k, v in asdict(s).items() if k not in ("stdout", "stderr")}
                for s in self.samples
            ],
        }


# -- the work ----------------------------------------------------------------------------------


def domain_name(index: int) -> str:
    return f"r{index:04d}.example"


@dataclass
class Bench:
    count: int
    work: Path
    ci: bool
    profile: Path | None = None
    server: BindServer | None = None
    rows: list[Row] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.work / "repo"

    @property
    def host_config(self) -> Path:
        return self.work / "host" / "host.yaml"

    @property
    def key_dir(self) -> Path:
        return self.work / "host" / "keys"

    @property
    def lookup_file(self) -> Path:
        return self.work / "host" / "exim" / "mailzone-dkim-selectors"

    def mailzone(self, *args: str) -> list[str]:
        return [MAILZONE, "--root", str(self.root), *args]

    def profiled(self, argv: list[str], name: str) -> list[str]:
        """`argv` under cProfile (main process only), the stats in --profile DIR."""
        if self.profile is None:
            return argv
        out = self.profile / f"{len(self.rows):02d}-{slug(name)}.pstats"
        return [sys.executable, "-m", "cProfile", "-o", str(out), *argv]

    def rotate(self, now: datetime, apply: bool) -> list[str]:
        argv = self.mailzone("rotate", "--host-config", str(self.host_config), "--now", iso(now))
        return [*argv, "--apply"] if apply else argv

    def prepare(self) -> None:
        """Specs, states with a 91-day-old active selector and its key, the provider, the host
        config; then a first apply (not measured) so BIND serves the active selectors."""
        from mailzone.dkim import keys
        from mailzone.dkim.store import KeyStore
        from mailzone.repo.state import save_state
        from mailzone.spec.state import DomainState, SelectorState

        (self.work / "hook").mkdir()
        (self.work / "hook" / "sitecustomize.py").write_text(_SITECUSTOMIZE)
        names = [domain_name(i) for i in range(1, self.count + 1)]
        begin = time.perf_counter()
        self.server = BindServer(start_timeout=max(30.0, self.count * 0.1)).start(names)
        print(
            f"BIND serving {self.count} zones after {time.perf_counter() - begin:.1f} s", flush=True
        )
        provider = self.server.provider_config()
        provider["mailzone"] = {"nameservers": [f"127.0.0.1:{self.server.port}"]}
        (self.root / "providers").mkdir(parents=True)
        (self.root / "providers" / "target.yaml").write_text(yaml.safe_dump(provider))
        group = "Debian-exim" if _group_exists("Debian-exim") else None
        self.host_config.parent.mkdir(parents=True)
        self.lookup_file.parent.mkdir(parents=True)
        host = {
            "key_dir": "keys",
            **({"key_group": group} if group else {}),
            "mta": {
                "kind": "exim",
                "macros_file": str(self.lookup_file.parent / "exim4.conf.localmacros"),
                "lookup_file": str(self.lookup_file),
                "reload": [["true"]],
            },
        }
        self.host_config.write_text(yaml.safe_dump(host, sort_keys=False))
        # one key shared by every domain's old selector: it only has to exist and match
        private = keys.generate_private_key("rsa", 2048)
        public, pem = keys.public_key_of(private), keys.private_key_pem(private)
        store = KeyStore(self.key_dir, group)
        (self.root / "zones").mkdir()
        for name in names:
            (self.root / "zones" / f"{name}.yaml").write_text(
                f"domain: {name}\n"
                "provider: target\n"
                "hosts:\n"
                '  - {name: mail, ipv4: [192.0.2.25], ipv6: ["2001:db8::25"]}\n'
                f'dmarc: {{policy: none, rua: ["mailto:postmaster@{name}"]}}\n'
            )
            entry = SelectorState(
                selector=OLD_SELECTOR,
                algorithm="rsa",
                bits=2048,
                public_key=public.p,
                fingerprint=public.fingerprint,
                phase="active",
                created=T0,
                changed=T0,
                visible_since=T0,
                switched=T0,
            )
            save_state(self.root, DomainState(domain=name, selectors=[entry]))
            store.write(name, OLD_SELECTOR, pem)
        begin = time.perf_counter()
        done = subprocess.run(
            self.mailzone("apply", "--yes"), capture_output=True, text=True, cwd=self.work
        )
        if done.returncode != 0:
            raise BenchError(f"first apply failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        print(f"first apply (not measured) took {time.perf_counter() - begin:.1f} s", flush=True)
        # a new host's first rotate writes the Exim files; the no-op figures are for a host past that
        done = subprocess.run(self.rotate(T0, apply=False), capture_output=True, text=True)
        if done.returncode != 0 or not self.lookup_file.exists():
            raise BenchError(f"first rotate failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")

    def step(self, name: str, argv: list[str], when: datetime, repeat: int = 1) -> Row:
        row = Row(name, iso(when))
        before = self.key_count()
        for i in range(repeat):
            sample = run_measured(
                self.profiled(argv, name), self.work, f"{len(self.rows):02d}-{slug(name)}-{i}"
            )
            if sample.returncode != 0:
                tail = "\n".join((sample.stdout + sample.stderr).splitlines()[-20:])
                raise BenchError(f"{name}: exit status {sample.returncode}\n{tail}")
            row.samples.append(sample)
        row.keys_made = max(0, self.key_count() - before)
        self.rows.append(row)
        print(
            f"  {name:<28} {row.seconds:7.2f} s  (self {row.samples[-1].self_mb:.0f} MB, "
            f"children {row.samples[-1].children_mb:.0f} MB)",
            flush=True,
        )
        return row

    def dns_step(self, name: str, when: datetime) -> Row:
        """A rotate that changes DNS: with --apply, or (--ci) rotate then `mailzone apply`."""
        if not self.ci:
            return self.step(name, self.rotate(when, apply=True), when)
        row = self.step(name, self.rotate(when, apply=False), when)
        self.step(f"{name}: apply --yes", self.mailzone("apply", "--yes"), when)
        return row

    def key_count(self) -> int:
        return sum(1 for p in self.key_dir.iterdir() if p.suffix == ".pem")

    def phases(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for path in (self.root / "state").glob("*.yaml"):
            for entry in yaml.safe_load(path.read_text())["selectors"]:
                key = entry["phase"] + (" (seen)" if entry.get("visible_since") else "")
                counts[key] = counts.get(key, 0) + 1
        return counts

    def expect(self, what: str, ok: bool, detail: object) -> None:
        if not ok:
            raise BenchError(f"after {what}: {detail} (work dir kept: {self.work})")

    def run(self, noop_repeat: int) -> None:
        n = self.count
        self.prepare()
        quiet = T0 + timedelta(days=1)
        self.step("no-op (nothing due)", self.rotate(quiet, False), quiet, noop_repeat)
        self.expect("no-op", self.phases() == {"active (seen)": n}, self.phases())
        published = T0 + timedelta(days=91)
        row = self.dns_step("publish (new keys)", published)
        self.expect("publish", row.keys_made == n, f"{row.keys_made} keys made, not {n}")
        self.expect("publish", self.phases() == {"active (seen)": n, "pending": n}, self.phases())
        served = [self.served(domain_name(i), published) for i in (1, n)]
        self.expect("publish", all(served), "BIND does not serve the new selector")
        self.step(
            "wait (DNS checked)", self.rotate(published + timedelta(hours=1), False), published
        )
        self.expect(
            "wait", self.phases() == {"active (seen)": n, "pending (seen)": n}, self.phases()
        )
        switched = published + timedelta(hours=25)
        self.step("activate (DNS, Exim)", self.rotate(switched, False), switched)
        self.expect(
            "activate", self.phases() == {"active (seen)": n, "retiring (seen)": n}, self.phases()
        )
        lines = [ln for ln in self.lookup_file.read_text().splitlines() if not ln.startswith("#")]
        new_selector = published.strftime("%Y%m%dr")
        self.expect(
            "activate", len(lines) == n and all(new_selector in ln for ln in lines), lines[:3]
        )
        later = switched + timedelta(hours=1)
        self.step("no-op after the switch", self.rotate(later, False), later, noop_repeat)
        self.dns_step("revoke (p= empty)", switched + timedelta(days=7))
        self.expect(
            "revoke", self.phases() == {"active (seen)": n, "revoked (seen)": n}, self.phases()
        )
        self.dns_step("forget (remove records)", switched + timedelta(days=30))
        self.expect(
            "forget", self.phases() == {"active (seen)": n, "tombstone (seen)": n}, self.phases()
        )
        gone = switched + timedelta(days=30, hours=1)
        self.step("delete keys (DNS checked)", self.rotate(gone, False), gone)
        self.expect("delete keys", self.phases() == {"active (seen)": n}, self.phases())
        self.expect("delete keys", self.key_count() == n, f"{self.key_count()} keys left, not {n}")

    def served(self, domain: str, published: datetime) -> bool:
        from tests.servers import txt_values

        assert self.server is not None
        name = f"{published:%Y%m%d}r._domainkey.{domain}"
        return any(v.startswith("v=DKIM1") for v in txt_values(self.server, name))


def use_pycache(prefix: Path) -> None:
    """Let mailzone keep its compiled bytecode (in `prefix`) and compile it now, as an installed
    copy would have it; with PYTHONDONTWRITEBYTECODE set (as in some sandboxes) the editable
    checkout would recompile every module on every run (see reconcile.py)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(prefix)
    modules = (
        "mailzone.cli.app, mailzone.cli.dkim, mailzone.dkim.rotate, mailzone.cli.render.dkim, "
        + ("mailzone.octo.sync, mailzone.cli.render.plan, octodns_bind")
    )
    subprocess.run([sys.executable, "-c", f"import {modules}"], check=True)


def _group_exists(name: str) -> bool:
    import grp

    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")


# -- output ------------------------------------------------------------------------------------


def table(rows: list[dict[str, Any]], count: int) -> str:
    lines = [
        f"| step ({count} domains) | wall | keys/s | peak RSS (process) | peak RSS (children) | CPU |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        rate = f"{r['keys_per_s']:.1f}" if r["keys_per_s"] else "—"
        runs = f" (median of {r['runs']})" if r["runs"] > 1 else ""
        kids = f"{r['children_peak_mb']:.0f} MB" if r["children_peak_mb"] else "—"
        lines.append(
            f"| {r['step']}{runs} | {r['seconds']:.2f} s | {rate} | {r['self_peak_mb']:.0f} MB "
            f"| {kids} | {r['cpu_s']:.1f} s |"
        )
    return "\n".join(lines)


def keygen_table(rates: list[dict[str, Any]]) -> str:
    lines = ["| key | processes | keys/s |", "|---|---:|---:|"]
    for r in rates:
        lines.append(f"| {r['key']} | {r['processes']} | {r['keys_per_s']:.1f} |")
    return "\n".join(lines)


def verdicts(rows: list[dict[str, Any]]) -> list[str]:
    by_step = {r["step"]: r for r in rows}
    publish = by_step["publish (new keys)"]["seconds"]
    if "publish (new keys): apply --yes" in by_step:
        publish += by_step["publish (new keys): apply --yes"]["seconds"]
    noop = max(
        by_step["no-op (nothing due)"]["seconds"], by_step["no-op after the switch"]["seconds"]
    )
    return [
        f"publish: {publish:.1f} s ({'within' if publish <= GOAL_PUBLISH_S else 'OVER'} the "
        f"{GOAL_PUBLISH_S:.0f} s goal)",
        f"no-op: {noop:.2f} s ({'within' if noop <= GOAL_NOOP_S else 'OVER'} the "
        f"{GOAL_NOOP_S:.0f} s goal)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=1000, help="how many domains (default 1000)")
    parser.add_argument("--json", type=Path, help="write every sample and the summary here")
    parser.add_argument(
        "--ci", action="store_true", help="rotate without --apply, then `mailzone apply --yes`"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each no-op step (median)")
    parser.add_argument(
        "--keygen-count", type=int, default=100, help="RSA keys per rate (Ed25519: 10x); 0: skip"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    parser.add_argument(
        "--no-pycache", action="store_true", help="leave PYTHONDONTWRITEBYTECODE as it is"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run every step under cProfile, stats to DIR (slower: the figures are then only "
        "for comparing shares)",
    )
    args = parser.parse_args()
    if find_binary("named") is None:
        sys.exit("needs BIND9's named (apt-get install bind9)")

    cores = len(os.sched_getaffinity(0))
    load_before = os.getloadavg()
    print(
        f"cores available: {cores}; {args.domains} domains; load average {load_before[0]:.1f}",
        flush=True,
    )
    work = Path(tempfile.mkdtemp(prefix="mailzone-bench-rotate-"))
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    if not args.no_pycache:
        use_pycache(work / "pycache")
    bench = Bench(args.domains, work, args.ci, args.profile)
    failed = True
    try:
        bench.run(args.repeat)
        failed = False
    finally:
        if bench.server is not None:
            bench.server.stop()
        if args.keep or failed:
            print(f"work dir: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    rows = [r.summary() for r in bench.rows]
    rates = keygen.rates(args.keygen_count, [1, cores]) if args.keygen_count else []
    print()
    print(table(rows, args.domains))
    if rates:
        print()
        print(keygen_table(rates))
    load_after = os.getloadavg()
    print()
    for line in verdicts(rows):
        print(line)
    print(
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after (other work on "
        f"the machine slows the wall times; CPU time is steadier)"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "domains": args.domains,
                    "cores": cores,
                    "ci": args.ci,
                    "rows": rows,
                    "keygen": rates,
                    "commit": _commit(),
                    "load_average": [load_before[0], load_after[0]],
                },
                indent=2,
            )
        )


def _commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "mailzone"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() + ("+uncommitted" if dirty.stdout.strip() else "")


if __name__ == "__main__":
    main()
