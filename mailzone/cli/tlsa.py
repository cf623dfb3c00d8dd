"""`mailzone tlsa current|add-next|show|deploy-hook`: the DANE key rollover of the MX hosts,
registered by `mailzone.cli.app`."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mailzone.cli.context import (
    LOCK_TIMEOUT,
    Context,
    DomainsArg,
    HostOpt,
    LockTimeoutOpt,
    NameserverOpt,
    console,
    resolver,
)
from mailzone.errors import EXIT_ERROR, MailzoneError

if TYPE_CHECKING:
    from mailzone.spec.state import TlsaRole

tlsa_app = typer.Typer(
    help="DANE: the MX hosts' TLS keys and their rollover.", no_args_is_help=True
)

HostArg = Annotated[str, typer.Argument(help="The MX host's full name, e.g. mx.example.org.")]
CertOpt = Annotated[
    Path | None,
    typer.Option("--cert", help="Its certificate (PEM).", show_default=False),
]
KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key", help="Its private or public key (PEM; read, never copied).", show_default=False
    ),
]
NowOpt = Annotated[
    str | None,
    typer.Option("--now", help="Act as if it were this ISO 8601 time.", show_default=False),
]


def _record(
    ctx: typer.Context,
    host: str,
    role: TlsaRole,
    cert: Path | None,
    key: Path | None,
    replace: bool,
    now: str | None,
    lock_timeout: float,
) -> None:
    from mailzone.dkim.rotate import parse_now
    from mailzone.dkim.tlsa import short
    from mailzone.dkim.tlsa_deploy import dane_domain, key_hash, record_key

    if (cert is None) == (key is None):
        raise MailzoneError("give the key as --cert FILE or --key FILE (one of them)")
    spki = key_hash(cert, "--cert") if cert is not None else key_hash(Path(str(key)), "--key")
    when = parse_now(now)
    run = Context.of(ctx)
    dane_domain(run.project(None), host)  # bad specs, states or host fail before the lock
    with run.locked(lock_timeout):
        domain = dane_domain(run.project(None), host)  # read again under the lock
        changed = record_key(run.root, domain, host, role, spki, when, replace)
    name = host.rstrip(".").lower()
    out = console()
    if not changed:
        out.print(
            f"{short(spki)} is already the {role} key of {name}; nothing changed", markup=False
        )
        return
    out.print(
        f"recorded {short(spki)} as the {role} key of {name} in state/{domain.name}.yaml",
        markup=False,
    )
    after = (
        "the next `mailzone rotate` notes when every nameserver serves it; certbot's deploy hook "
        "installs the certificate with this key 2 × TTL after that"
        if role == "next"
        else "the MX must serve this key now"
    )
    out.print(
        f"next: commit state/{domain.name}.yaml and run `mailzone apply` (publishes its TLSA); "
        + after,
        markup=False,
    )


@tlsa_app.command("current")
def current(
    ctx: typer.Context,
    host: HostArg,
    cert: CertOpt = None,
    key: KeyOpt = None,
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Replace a different current key (the MX serves this one)."),
    ] = False,
    now: NowOpt = None,
    lock_timeout: LockTimeoutOpt = LOCK_TIMEOUT,
) -> None:
    """Record the key the MX serves now (first setup): its TLSA 3 1 1 goes out at the next apply."""
    _record(ctx, host, "current", cert, key, replace, now, lock_timeout)


@tlsa_app.command("add-next")
def add_next(
    ctx: typer.Context,
    host: HostArg,
    cert: CertOpt = None,
    key: KeyOpt = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a different staged next key.")
    ] = False,
    now: NowOpt = None,
    lock_timeout: LockTimeoutOpt = LOCK_TIMEOUT,
) -> None:
    """Stage the key of the next certificate: its TLSA is published beside the current one."""
    _record(ctx, host, "next", cert, key, replace, now, lock_timeout)


@tlsa_app.command("show")
def show(ctx: typer.Context, domains: DomainsArg = None) -> None:
    """List each DANE host's keys (role, hash, added, since when every nameserver serves a
    staged key's TLSA, as `mailzone rotate` and the deploy hook noted it) and what comes next."""
    from mailzone.dkim.tlsa import safe_wait, short
    from mailzone.records.tlsa import dane_hosts

    project = Context.of(ctx).project(domains)
    out = console()
    selected = project.select(domains or [])
    if not any(dane_hosts(d.spec) for d in selected):
        out.print("no DANE hosts: add dane: (and dnssec: true) to a spec", markup=False)
    for domain in selected:
        for host in dane_hosts(domain.spec):
            keys = [k for k in domain.state.tlsa if k.host == host]
            if not keys:
                out.print(
                    f"{host}: no key yet (next: mailzone tlsa current {host} --cert FILE)",
                    markup=False,
                )
            for k in keys:
                line = f"{host}: {k.role:<7} {short(k.spki_sha256)} added {k.added:%Y-%m-%d}"
                if k.role == "next" and k.visible_since is None:
                    line += (
                        " (next: commit state/, mailzone apply; mailzone rotate notes when every "
                        "nameserver serves it)"
                    )
                elif k.role == "next" and k.visible_since is not None:
                    ready = k.visible_since + safe_wait(domain.spec.ttl, 0)
                    line += (
                        f", served everywhere since {k.visible_since:%Y-%m-%d %H:%M} UTC (next: "
                        f"its certificate may go live from {ready:%Y-%m-%d %H:%M} UTC at the "
                        "earliest, by certbot's deploy hook)"
                    )
                out.print(line, markup=False)


@tlsa_app.command("deploy-hook")
def deploy_hook(
    ctx: typer.Context,
    wait: Annotated[
        str | None,
        typer.Option(
            "--wait",
            help="When the new key's TLSA has not been served for 2 × TTL yet: keep looking for "
            "up to this long (e.g. 2h) instead of failing.",
            metavar="DURATION",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Install even a key whose TLSA is not (long enough) in DNS: DANE receivers may "
            "refuse the MX until it is.",
        ),
    ] = False,
    commit: Annotated[
        bool, typer.Option("--commit", help="git commit the state/ files this run changed.")
    ] = False,
    now: NowOpt = None,
    host_config: HostOpt = None,
    nameserver: NameserverOpt = None,
    lock_timeout: LockTimeoutOpt = LOCK_TIMEOUT,
) -> None:
    """certbot's --deploy-hook (RENEWED_LINEAGE, RENEWED_DOMAINS): install the renewed
    certificate for the MTA (the host config's tls section) only while DANE stays intact: its key
    is the current one, or the next one served by every nameserver for 2 × TTL (then promoted).
    Exit 1, the old certificate kept, otherwise."""
    from mailzone.dkim.rotate import parse_now
    from mailzone.dkim.tlsa_deploy import (
        Deployed,
        Lineage,
        certificate_hosts,
        deploy,
        deploy_when_safe,
    )
    from mailzone.dkim.visibility import Observer
    from mailzone.dns.query import Dns
    from mailzone.repo import git
    from mailzone.spec.duration import parse_duration

    lineage_dir = os.environ.get("RENEWED_LINEAGE", "")
    if not lineage_dir:
        raise MailzoneError("RENEWED_LINEAGE is not set: certbot sets it for a --deploy-hook")
    names = os.environ.get("RENEWED_DOMAINS", "").split()
    try:
        patience = parse_duration(wait) if wait else timedelta(0)
    except ValueError as err:
        raise MailzoneError(f"--wait: {err}") from None
    start = parse_now(now)
    run = Context.of(ctx)
    host = run.host(host_config)
    if host.tls is None:
        raise MailzoneError(
            "the host config has no tls section (cert, key, reload): the hook does not know "
            "where the MTA reads its certificate"
        )
    lineage = Lineage.read(Path(lineage_dir))
    out, errs = console(), console(stderr=True)
    if not certificate_hosts(run.project(None), names):
        out.print(
            f"not a DANE host's certificate ({' '.join(names) or 'no RENEWED_DOMAINS'}): "
            "nothing installed",
            markup=False,
        )
        return
    server = resolver(nameserver)
    if commit:
        git.check_ready(run.root, push=False)
    before = git.state_files(run.root) if commit else {}

    def one_pass(at: datetime) -> Deployed:
        with run.locked(lock_timeout):
            observer = Observer(run.root, host, Dns(server))  # a fresh cache each look
            return deploy(run.root, run.project(None), host, lineage, names, at, observer, force)

    done = deploy_when_safe(
        one_pass, start, patience, lambda line: errs.print(f"waiting: {line}", markup=False)
    )
    for verdict in done.verdicts.values():
        if verdict.installs:
            out.print(verdict.reason, markup=False)
    if commit:
        changed = git.changed_files(before, git.state_files(run.root))
        if changed:
            message = "mailzone tlsa deploy-hook: " + ", ".join(
                f"{n} {v.action}" for n, v in done.verdicts.items()
            )
            commit_id = git.commit_state(run.root, changed, message + "\n")
            out.print(f"git: committed {commit_id} ({', '.join(changed)})", markup=False)
    if not done.installs:
        refused = [v.reason for v in done.verdicts.values() if not v.installs]
        errs.print(f"error: not installed, the old certificate stays: {refused[0]}", markup=False)
        raise typer.Exit(EXIT_ERROR)
    out.print(
        f"installed {', '.join(str(p) for p in done.installed)} and reloaded the MTA", markup=False
    )
    if any(v.action == "promote" for v in done.verdicts.values()):
        out.print(
            "next: commit state/ and run `mailzone apply`: the old key's TLSA goes", markup=False
        )
