"""`mailzone tlsa`: record the MX hosts' TLS keys in the state, watch the nameservers serve a
staged key's TLSA, and install certbot's new certificate only when DANE stays intact (the
decisions are `dkim.tlsa`'s; this module reads files, asks DNS and writes). The caller holds the
repository's lock around each call that saves a state."""

from __future__ import annotations

import grp
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm

from mailzone.dkim import tlsa
from mailzone.dkim.visibility import Observer
from mailzone.errors import MailzoneError
from mailzone.mta.install import run_commands
from mailzone.records.tlsa import dane_hosts, spki_sha256, tlsa_name, tlsa_rdata
from mailzone.repo.project import Domain, Project
from mailzone.repo.state import save_state
from mailzone.spec.host import HostConfig
from mailzone.spec.state import TlsaKey, TlsaRole
from mailzone.util.files import replace_together

MAX_PEM = 1 << 20  # a certificate chain or a key is a few KB
POLL = 30.0  # seconds between looks at the nameservers while the hook waits


def key_hash(path: Path, what: str) -> str:
    """The SPKI SHA-256 of the certificate or key in `path` (`what` names the option in
    errors). The file is read, never copied or printed."""
    try:
        with path.open("rb") as fh:
            pem = fh.read(MAX_PEM + 1)
    except OSError as err:
        raise MailzoneError(f"{what}: {path}: {err.strerror or err}") from None
    if len(pem) > MAX_PEM:
        raise MailzoneError(f"{what}: {path}: too big for a PEM certificate or key")
    try:
        return spki_sha256(pem)
    except TypeError:  # an encrypted private key
        raise MailzoneError(
            f"{what}: {path}: the private key is encrypted; give its certificate instead"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as err:
        why = str(err).splitlines()[0] if str(err) else "not a PEM certificate or key"
        raise MailzoneError(f"{what}: {path}: {why}") from None


def dane_domain(project: Project, host: str) -> Domain:
    """The domain whose spec gives `host` (a full name) TLSA; MailzoneError naming it if none."""
    name = host.rstrip(".").lower()
    found = [d for d in project.domains.values() if name in dane_hosts(d.spec)]
    if not found:
        raise MailzoneError(
            f"{name} is not a DANE host of any spec (dane.hosts, or an MX host inside the zone "
            "of a spec with dane)"
        )
    if len(found) > 1:
        raise MailzoneError(f"{name} is a DANE host of {found[0].name} and {found[1].name}")
    return found[0]


def record_key(
    root: Path,
    domain: Domain,
    host: str,
    role: TlsaRole,
    spki: str,
    now: datetime,
    replace: bool = False,
) -> bool:
    """Stage `spki` as the host's `role` key in the domain's state (see `tlsa.stage`); whether
    the state changed."""
    keys = tlsa.stage(domain.state.tlsa, host.rstrip(".").lower(), role, spki, now, replace)
    if keys == domain.state.tlsa:
        return False
    where = {"zone": domain.zone, "provider": domain.spec.provider}
    domain.state = domain.state.model_copy(update={"tlsa": keys, **where})
    save_state(root, domain.state)
    return True


@dataclass
class NextSeen:
    """What the nameservers serve of a domain's staged TLSA keys: the keys with `visible_since`
    noted, the wait from first seen to safe, and per host why its key is not served yet."""

    keys: list[TlsaKey]
    wait: timedelta
    said: dict[str, str] = field(default_factory=dict)


def observe_next(domain: Domain, observer: Observer, now: datetime) -> NextSeen:
    """Ask every authoritative nameserver for the TLSA of the domain's staged next keys (rotate
    and the deploy hook both do) and note since when they all serve it."""
    keys = domain.state.tlsa
    staged = [k for k in keys if k.role == "next" and k.host in dane_hosts(domain.spec)]
    wanted = {k.host: (tlsa_name(k.host) + ".", "TLSA", tlsa_rdata(k.spki_sha256)) for k in staged}
    ttl = domain.spec.ttl
    try:
        shown, negative = observer.served(domain, wanted)
    except MailzoneError as err:
        said = {host: str(err) for host in wanted}
        return NextSeen(list(keys), tlsa.safe_wait(ttl, 0), said)
    served = {(k.host, k.spki_sha256): shown[k.host].ok for k in staged}
    said = {
        host: "; ".join(f"{server}: {status}" for server, status in v.per_server.items())
        for host, v in shown.items()
        if not v.ok
    }
    return NextSeen(tlsa.note_visible(keys, served, now), tlsa.safe_wait(ttl, negative), said)


@dataclass(frozen=True)
class Lineage:
    """certbot's renewed certificate (RENEWED_LINEAGE): the chain to serve, the private key,
    and the key's SPKI hash."""

    fullchain: Path
    privkey: Path
    spki: str

    @classmethod
    def read(cls, directory: Path) -> Lineage:
        """The lineage's files, checked: the certificate's key is the private key."""
        cert, fullchain, privkey = (
            directory / n for n in ("cert.pem", "fullchain.pem", "privkey.pem")
        )
        spki = key_hash(cert, "RENEWED_LINEAGE")
        if key_hash(privkey, "RENEWED_LINEAGE") != spki:
            raise MailzoneError(f"{privkey}: not the private key of {cert}")
        if key_hash(fullchain, "RENEWED_LINEAGE") != spki:
            raise MailzoneError(f"{fullchain}: its first certificate is not {cert}")
        return cls(fullchain, privkey, spki)


@dataclass
class Deployed:
    """One pass of the deploy hook: each DANE host's verdict, the files installed, and the
    domains whose state changed (a staged key seen, a key promoted)."""

    verdicts: dict[str, tlsa.Verdict] = field(default_factory=dict)
    installed: list[Path] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)

    @property
    def installs(self) -> bool:
        """Whether the certificate went live."""
        return bool(self.verdicts) and all(v.installs for v in self.verdicts.values())


def certificate_hosts(project: Project, names: list[str]) -> dict[str, Domain]:
    """The DANE hosts among a certificate's names, with their domains."""
    wanted = {n.rstrip(".").lower() for n in names}
    return {h: d for d in project.domains.values() for h in dane_hosts(d.spec) if h in wanted}


def deploy(
    root: Path,
    project: Project,
    host: HostConfig,
    lineage: Lineage,
    names: list[str],
    now: datetime,
    observer: Observer,
    force: bool = False,
) -> Deployed:
    """One pass: note what the nameservers serve of the staged keys, decide for each DANE host
    among `names`, and, when every verdict allows it, install the certificate and key where
    `host.tls` says, run its reload commands and promote the keys."""
    if host.tls is None:
        raise MailzoneError(
            "the host config has no tls section: where does the MTA read its certificate?"
        )
    done = Deployed()
    hosts = certificate_hosts(project, names)
    seen: dict[str, NextSeen] = {}
    for domain in {d.name: d for d in hosts.values()}.values():
        seen[domain.name] = observe_next(domain, observer, now)
        if seen[domain.name].keys != domain.state.tlsa:
            _save(root, domain, seen[domain.name].keys, done)
    for name, domain in hosts.items():
        verdict = tlsa.decide(
            domain.state.tlsa, name, lineage.spki, now, seen[domain.name].wait, force
        )
        said = seen[domain.name].said.get(name)
        if verdict.action == "wait" and verdict.ready is None and said:
            verdict = tlsa.Verdict("wait", f"{verdict.reason} ({said})")
        done.verdicts[name] = verdict
    if not done.installs:
        return done
    done.installed = install_certificate(host, lineage)
    try:
        run_commands(host.tls.reload)
    except MailzoneError as err:
        raise MailzoneError(
            f"installed {', '.join(map(str, done.installed))}, but {err}; the state is unchanged: "
            "fix the reload, then run the hook again"
        ) from None
    for name, domain in hosts.items():
        if done.verdicts[name].action == "promote":
            _save(root, domain, tlsa.promote(domain.state.tlsa, name, lineage.spki, now), done)
    return done


def deploy_when_safe(
    one_pass: Callable[[datetime], Deployed],
    start: datetime,
    patience: timedelta,
    say: Callable[[str], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Deployed:
    """`--wait`: run `one_pass` (a `deploy` under the lock) at `start` and, while every host
    only waits, again until the certificate goes live or `patience` is over; between passes
    sleep until the wait should end (at most POLL seconds, so a nameserver that catches up is
    seen). The time each pass judges by is `start` plus the whole seconds slept."""
    began = clock()
    while True:
        elapsed = timedelta(seconds=int(clock() - began))
        now = start + elapsed
        done = one_pass(now)
        waits = [v for v in done.verdicts.values() if v.action == "wait"]
        left = (patience - elapsed).total_seconds()
        if done.installs or left <= 0 or not waits or len(waits) != len(done.verdicts):
            return done
        ready = [v.ready for v in waits if v.ready is not None]
        seconds = (max(ready) - now).total_seconds() if len(ready) == len(waits) else POLL
        say(waits[0].reason)
        sleep(max(1.0, min(seconds, POLL, left)))


def _save(root: Path, domain: Domain, keys: list[TlsaKey], done: Deployed) -> None:
    domain.state = domain.state.model_copy(update={"tlsa": keys})
    save_state(root, domain.state)
    if domain.name not in done.saved:
        done.saved.append(domain.name)


def install_certificate(host: HostConfig, lineage: Lineage) -> list[Path]:
    """Write the chain (0644) and the key (0600, or 0640 for `tls.group`) over the MTA's files
    (`tls` of the host config), each atomically and both right after each other; the paths
    written."""
    tls = host.tls
    if tls is None:
        raise MailzoneError("the host config has no tls section")
    gid = grp.getgrnam(tls.group).gr_gid if tls.group else None
    cert, key = host.path(tls.cert), host.path(tls.key)
    try:
        replace_together(
            [
                (key, lineage.privkey.read_bytes(), 0o640 if gid is not None else 0o600, gid),
                (cert, lineage.fullchain.read_bytes(), 0o644, None),
            ]
        )
    except OSError as err:
        raise MailzoneError(f"installing the certificate failed (nothing changed): {err}") from None
    return [cert, key]
