"""`mailzone check`: registered on the main app by `mailzone.cli.app`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mailzone.check.families import DNS_NAMES, FAMILIES, NETWORK_NAMES
from mailzone.cli.context import (
    CheckFamily,
    Context,
    DnsFamily,
    DomainsArg,
    NetworkFamily,
    ShardOpt,
    TextJsonOpt,
    empty_shard,
    resolver,
)
from mailzone.errors import EXIT_OK, MailzoneError

# from this many domains the default `--processes` is one per core: with each batch's questions
# asked ahead one process checks 1000 domains in 1.4 s, and forking, the first domain checked
# before it and the reports sent back cost more than a second core gains below ~2000
# (bench/check.py: 4000 domains 4.6 s in one process, 4.2 s in two)
FORK_FROM = 2000

HELP = (
    "Verify from live DNS what receivers test, family by family (--skip leaves one out): "
    + "; ".join(f"{f.name}: {f.about}" for f in FAMILIES)
    + ". Exit 0 all checked and nothing failed, 1 error, 3 a check failed, 4 inconclusive: "
    + f"nothing failed but a DNS family ({', '.join(DNS_NAMES)}) could not be checked "
    + f"(--allow-unknown accepts that; {', '.join(NETWORK_NAMES)} count only with --require)."
)

if TYPE_CHECKING:
    from mailzone.check.env import CheckEnv
    from mailzone.check.model import DomainReport
    from mailzone.repo.project import Domain


def check(
    ctx: typer.Context,
    domains: DomainsArg = None,
    nameserver: Annotated[
        str | None,
        typer.Option(
            "--nameserver",
            help="Resolver (IP[:PORT]) for every question not asked of an authoritative server "
            "(default: the system's).",
            show_default=False,
        ),
    ] = None,
    skip: Annotated[
        list[CheckFamily] | None,
        typer.Option(
            "--skip", help="Leave out a family of checks (repeatable).", show_default=False
        ),
    ] = None,
    allow_unknown: Annotated[
        list[DnsFamily] | None,
        typer.Option(
            "--allow-unknown",
            help="Exit 0, not 4, when this DNS family could not be checked (repeatable, or all).",
            show_default=False,
        ),
    ] = None,
    require: Annotated[
        list[NetworkFamily] | None,
        typer.Option(
            "--require",
            help="Exit 4 when this network family could not be checked (repeatable, or all); "
            "by default their unknowns do not count (often blocked on CI).",
            show_default=False,
        ),
    ] = None,
    blocklist: Annotated[
        list[str] | None,
        typer.Option(
            "--blocklist",
            help="A DNS blocklist zone to look sending addresses up in (repeatable; replaces "
            "the defaults; `none` for no list). Suffix `+6` if it lists IPv6.",
        ),
    ] = None,
    problems: Annotated[
        bool, typer.Option("--problems", help="Show only what is not a pass.")
    ] = False,
    host_config: Annotated[
        Path | None,
        typer.Option(
            "--host-config",
            help="The mail host's settings (key directory, nameservers).",
            show_default=False,
        ),
    ] = None,
    connect: Annotated[
        list[str] | None,
        typer.Option(
            "--connect",
            help="Dial HOST[:PORT] at ADDR:PORT instead of its DNS address (repeatable), e.g. "
            "mail.example.org:25=127.0.0.1:2525.",
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file",
            help="Trust this CA bundle for SMTP/HTTPS certificates.",
            show_default=False,
        ),
    ] = None,
    message: Annotated[
        Path | None,
        typer.Option(
            "--message",
            help="Judge this raw message (as the MTA sent it) instead of the domains.",
            show_default=False,
        ),
    ] = None,
    sender_ip: Annotated[
        str | None,
        typer.Option(
            "--sender-ip", help="--message: the address it was sent from.", show_default=False
        ),
    ] = None,
    mail_from: Annotated[
        str | None,
        typer.Option(
            "--mail-from",
            help="--message: the envelope sender (default: Return-Path, else From).",
            show_default=False,
        ),
    ] = None,
    helo: Annotated[str, typer.Option("--helo", help="--message: the HELO name it used.")] = "",
    none_days: Annotated[
        int,
        typer.Option(
            "--dmarc-none-days", min=0, help="Warn when DMARC has been p=none longer than this."
        ),
    ] = 30,
    smtp_timeout: Annotated[
        float,
        typer.Option(
            "--smtp-timeout", min=0.1, max=300, help="Seconds each SMTP/HTTPS step may take."
        ),
    ] = 10.0,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, max=60, help="Seconds per DNS query attempt.")
    ] = 2.0,
    fmt: TextJsonOpt = "text",
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            min=1,
            max=256,
            help="Threads per process, used once checks wait on slow servers.",
        ),
    ] = 16,
    processes: Annotated[
        int,
        typer.Option(
            "--processes",
            min=0,
            max=64,
            help=f"Worker processes (0: one per core from {FORK_FROM} domains).",
        ),
    ] = 0,
    shard: ShardOpt = None,
) -> None:
    """Verify from live DNS what receivers test: drift, SPF, DKIM, DMARC, MX, rDNS, blocklists."""
    from datetime import UTC, datetime, timedelta

    from mailzone.check.env import DEFAULT_BLOCKLISTS, Blocklist, CheckEnv
    from mailzone.check.verdict import Rules, exit_code, inconclusive
    from mailzone.cli.render import check as check_report
    from mailzone.dkim.store import KeyStore
    from mailzone.dns.query import Dns
    from mailzone.octo.authority import Authorities

    run = Context.of(ctx)
    lists: tuple[Blocklist, ...] = DEFAULT_BLOCKLISTS
    if blocklist:
        lists = tuple(
            Blocklist(b.removesuffix("+6").rstrip(".").lower(), ipv6=b.endswith("+6"))
            for b in blocklist
            if b != "none"
        )
    host = run.host(host_config)
    dns = Dns(resolver(nameserver), timeout=timeout)
    env = CheckEnv(
        root=run.root,
        host=host,
        dns=dns,
        authorities=Authorities(run.root, host, dns),
        now=datetime.now(UTC),
        skip=frozenset(s.value for s in skip or []),
        blocklists=lists,
        keys=KeyStore.for_host(host) if host.key_path.is_dir() else None,
        connect=_connect_map(connect or []),
        ca_file=ca_file,
        dmarc_none_after=timedelta(days=none_days),
        smtp_timeout=smtp_timeout,
    )
    if message is not None:
        reports = [_message(message, sender_ip, mail_from, helo, env)]
    else:
        if sender_ip or mail_from or helo:
            raise MailzoneError("--sender-ip, --mail-from and --helo go with --message")
        project = run.project(domains, shard)
        selected = project.select(domains or [], shard)
        if not selected:
            empty_shard(shard)  # an empty report, as with no domain
        if processes == 0:
            processes = min(os.cpu_count() or 1, 8) if len(selected) >= FORK_FROM else 1
        reports = _run(selected, env, jobs, processes)
    rules = Rules(
        allow=frozenset(a.value for a in allow_unknown or []),
        require=frozenset(r.value for r in require or []),
    )
    unchecked = inconclusive(reports, rules)
    code = exit_code(reports, rules)
    if fmt == "json":
        check_report.print_json(reports, sys.stdout, unchecked, code)
    else:
        check_report.print_text(reports, sys.stdout, problems_only=problems, unchecked=unchecked)
    if code != EXIT_OK:
        raise typer.Exit(code)


def _connect_map(values: list[str]) -> dict[str, tuple[str, int]]:
    """`--connect host[:port]=addr:port` options as a lookup table."""
    from mailzone.util.endpoint import parse_endpoint

    out = {}
    for value in values:
        name, sep, where = value.partition("=")
        try:
            if not sep or not name:
                raise ValueError(f"'{value}' is not HOST[:PORT]=ADDR:PORT")
            if not where.rpartition(":")[2].isdigit():
                raise ValueError(f"'{value}': give the address and port to dial (ADDR:PORT)")
            address, port = parse_endpoint(where)
        except ValueError as err:
            raise MailzoneError(f"--connect: {err}") from None
        out[name.rstrip(".").lower()] = (address, port)
    return out


def _message(
    path: Path, sender_ip: str | None, mail_from: str | None, helo: str, env: CheckEnv
) -> DomainReport:
    import ipaddress

    from mailzone.check.message import message_verdict

    if not sender_ip:
        raise MailzoneError("--message needs --sender-ip (the address the message was sent from)")
    try:
        ipaddress.ip_address(sender_ip)
    except ValueError:
        raise MailzoneError(f"--sender-ip: '{sender_ip}' is not an IP address") from None
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise MailzoneError(f"--message: {path}: {err.strerror}") from None
    return message_verdict(raw, sender_ip, env, mail_from, helo)


def _run(selected: list[Domain], env: CheckEnv, jobs: int, processes: int) -> list[DomainReport]:
    """Check the domains, with a progress bar on a terminal when there are many."""
    from mailzone.check.runner import check_all

    if len(selected) < 10 or not sys.stderr.isatty():
        return check_all(selected, env, jobs, processes=processes)
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("checking", total=len(selected))
        return check_all(
            selected, env, jobs, progress=lambda _: bar.advance(task), processes=processes
        )


__all__ = ["HELP", "check"]
