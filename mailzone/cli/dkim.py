"""The DKIM commands: `rotate`, `keys list|import`, `mta exim|opendkim|rspamd`.

Registered on the main app by `mailzone.cli.app`; heavy modules are imported inside the commands."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mailzone.cli.app import STATE, DomainsArg, JobsOpt, TextJsonOpt, _console, app
from mailzone.errors import EXIT_CHECK_FAILED, EXIT_ERROR, MailzoneError

if TYPE_CHECKING:
    from mailzone.repo.project import Project
    from mailzone.spec.host import HostConfig
    from mailzone.spec.state import DomainState

HostOpt = Annotated[
    Path | None,
    typer.Option(
        "--host-config",
        help="The mail host's settings (default: $MAILZONE_HOST_CONFIG, else "
        "/etc/mailzone/host.yaml if it exists).",
        show_default=False,
    ),
]
NameserverOpt = Annotated[
    str | None,
    typer.Option(
        "--nameserver",
        help="Resolver (IP[:PORT]) for NS lookups when no nameservers are configured.",
        show_default=False,
    ),
]

keys_app = typer.Typer(help="DKIM selectors and their keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _host(path: Path | None) -> HostConfig:
    from mailzone.spec.host import load_host_config

    return load_host_config(path, STATE.root)


def _project(domains: list[str] | None) -> Project:
    from mailzone.repo.project import load_project

    project = load_project(STATE.root)
    if not project.domains:
        raise MailzoneError(f"no specs in {STATE.root / 'zones'}: start with `mailzone init`")
    project.select(domains or [])  # unknown names are an error
    return project


def _resolver(text: str | None) -> tuple[str, int] | None:
    from mailzone.util.endpoint import parse_endpoint

    if text is None:
        return None
    try:
        return parse_endpoint(text)
    except ValueError as err:
        raise MailzoneError(f"--nameserver: {err}") from None


@app.command()
def rotate(
    domains: DomainsArg = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="Act as if it were this ISO 8601 time (tests, dry runs).",
            show_default=False,
        ),
    ] = None,
    apply: Annotated[
        bool,
        typer.Option(
            "--apply",
            help="Publish rotation's DNS changes (its DKIM selectors) right away through each "
            "domain's provider; other pending changes stay for `mailzone apply`.",
        ),
    ] = False,
    emergency: Annotated[
        bool,
        typer.Option(
            "--emergency",
            help="The key is compromised: new selector now, switch as soon as every nameserver "
            "serves it, revoke the old one in the same run. Name the domains.",
        ),
    ] = False,
    wait: Annotated[
        int,
        typer.Option(
            "--wait",
            min=0,
            max=3600,
            help="--emergency --apply: seconds to wait for the new key to be served.",
        ),
    ] = 60,
    host_config: HostOpt = None,
    nameserver: NameserverOpt = None,
    fmt: TextJsonOpt = "text",
    jobs: JobsOpt = 4,
) -> None:
    """Advance DKIM key rotation as far as is safe now (idempotent; run it daily)."""
    from mailzone.cli.render import dkim as render_dkim
    from mailzone.dkim.rotate import parse_now
    from mailzone.dkim.rotate import rotate as run_rotation
    from mailzone.dns.query import Dns

    if emergency and not domains:
        raise MailzoneError("--emergency: name the domain(s) whose key is compromised")
    if fmt not in ("text", "json"):
        raise MailzoneError(f"--format: '{fmt}' is not one of text, json")
    when = parse_now(now)
    host = _host(host_config)
    resolver = _resolver(nameserver)
    publish = (lambda names: _apply_names(names, jobs, quiet=fmt == "json")) if apply else None
    project = _project(domains)
    result = run_rotation(
        project,
        project.select(domains or []),
        host,
        when,
        dns=Dns(resolver),
        emergency=emergency,
        apply=publish,
    )
    results = [result]
    if emergency and apply and not result.failed:
        # the new selector is published: finish the emergency as soon as every server serves it
        deadline = time.monotonic() + wait
        while True:
            project = _project(domains)
            step_now = when if now else datetime.now(UTC)
            again = run_rotation(
                project,
                project.select(domains or []),
                host,
                step_now,
                dns=Dns(resolver),
                apply=publish,
            )
            if (
                not any(r.waiting for r in again.runs)
                or time.monotonic() >= deadline
                or again.failed
            ):
                results.append(again)
                break
            time.sleep(1)
    render_dkim.print_rotation(results, fmt, sys.stdout, sys.stderr, applied=apply)
    if any(r.failed for r in results):
        raise typer.Exit(EXIT_ERROR)


def _apply_names(names: list[str], jobs: int, quiet: bool = False) -> list[str]:
    """Publish what rotation changed in the named domains (their DKIM selectors and registry
    entries; no confirmation: rotate runs from timers) and say which other changes are pending
    for `mailzone apply`; error lines. `quiet` (rotate --format json): the apply summary goes
    to stderr, keeping stdout JSON."""
    from mailzone.cli.app import _output
    from mailzone.cli.render import dkim as render_dkim
    from mailzone.cli.render import plan as render
    from mailzone.octo.sync import ProviderCache, apply_all, plan_all, rotation_tasks
    from mailzone.repo.project import load_project

    project = load_project(STATE.root)
    cache = ProviderCache(STATE.root)
    plans = plan_all(project, rotation_tasks(project, names), cache, jobs=jobs)
    outcomes = apply_all(
        plans, cache, STATE.root / "build" / "backups", datetime.now(UTC), jobs=jobs
    )
    output = _output()
    if quiet:
        output = render.Output(sys.stderr, sys.stderr)
    render.print_outcomes(outcomes, output)
    render_dkim.print_held(plans, output.out)
    return [f"apply {o.zone}: {o.message}" for o in outcomes if o.status == "error"]


@keys_app.command("list")
def keys_list(
    domains: DomainsArg = None,
    host_config: HostOpt = None,
    fmt: TextJsonOpt = "text",
) -> None:
    """Selectors, phases and fingerprints (and whether this host holds each private key)."""
    from mailzone.cli.render import dkim as render_dkim
    from mailzone.dkim.selectors import list_keys

    if fmt not in ("text", "json"):
        raise MailzoneError(f"--format: '{fmt}' is not one of text, json")
    project = _project(domains)
    rows = list_keys(project.select(domains or []), _host(host_config))
    if fmt == "json":
        print(json.dumps([render_dkim.row_json(r) for r in rows], indent=2))
    else:
        print(render_dkim.key_table(rows))
    for line in render_dkim.key_problems(rows):
        print(f"warning: {line}", file=sys.stderr)


@keys_app.command("import")
def keys_import(
    domain: Annotated[str, typer.Argument(help="The mail domain.")],
    selector: Annotated[
        str, typer.Argument(help="The selector the MTA signs with today, e.g. 20200803.")
    ],
    pem: Annotated[Path, typer.Argument(help="Its private key (PEM).")],
    created: Annotated[
        str | None,
        typer.Option(
            "--created",
            help="When the key was made (ISO date; default now): rotation is due from it.",
            show_default=False,
        ),
    ] = None,
    host_config: HostOpt = None,
) -> None:
    """Bring an existing selector and its private key under mailzone's rotation."""
    from mailzone.dkim.rotate import parse_now
    from mailzone.dkim.selectors import import_key

    when = datetime.now(UTC).replace(microsecond=0)
    if created:
        try:
            made = parse_now(created)
        except MailzoneError:
            raise MailzoneError(
                f"--created: '{created}' is not an ISO 8601 date such as 2020-08-03"
            ) from None
        if made > when:
            raise MailzoneError(f"--created: {created} is in the future")
        when = made
    project = _project([domain])
    (item,) = project.select([domain])
    host = _host(host_config)
    entry = import_key(STATE.root, item, selector, pem, host, when)
    out = _console()
    out.print(
        f"imported {entry.selector} ({entry.algorithm}-{entry.bits}, {entry.fingerprint[:19]}…) as "
        f"the active selector of {item.name}; key in {host.key_path}",
        markup=False,
    )
    if any(i.selector == entry.selector for i in item.spec.dkim.imports):
        out.print(
            f"now remove selector {entry.selector} from dkim.import in zones/{item.name}.yaml: "
            "the state publishes it from now on",
            markup=False,
        )
    due = entry.created + item.spec.dkim.rotate_every
    out.print(
        f"rotation is due from {due:%Y-%m-%d}; `mailzone rotate` takes it from here", markup=False
    )


@app.command()
def mta(
    kind: Annotated[str, typer.Argument(help="exim, opendkim or rspamd.")],
    domains: DomainsArg = None,
    check: Annotated[
        bool, typer.Option("--check", help="exim: find the ways Exim silently sends unsigned mail.")
    ] = False,
    etc_dir: Annotated[
        Path, typer.Option("--etc-dir", help="exim --check: Exim's configuration directory.")
    ] = Path("/etc/exim4"),
    host_config: HostOpt = None,
) -> None:
    """Print the DKIM signing configuration for the active selectors (or --check it)."""
    from mailzone.mta.install import render_files

    if kind not in ("exim", "opendkim", "rspamd"):
        raise MailzoneError(f"MTA '{kind}' is not one of exim, opendkim, rspamd")
    host = _host(host_config)
    project = _project(domains)
    names = {d.name for d in project.select(domains or [])}
    states = [d.state for d in project.domains.values() if d.name in names]
    if check:
        _check_mta(kind, host, states, etc_dir)
        return
    for item in render_files(kind, states, host):
        where = (
            f"merge into {item.path} (mailzone keeps the rest of the file)"
            if item.block
            else f"{item.path}"
        )
        print(f"# ---- {where}")
        print(item.text, end="" if item.text.endswith("\n") else "\n")


def _check_mta(kind: str, host: HostConfig, states: list[DomainState], etc_dir: Path) -> None:
    from mailzone.mta.exim_check import check_exim
    from mailzone.mta.install import signing_of

    if kind != "exim":
        raise MailzoneError(f"--check knows Exim's silent failures only, not {kind}'s")
    signing, _ = signing_of(states, host)
    findings = check_exim(
        etc_dir,
        key_dir=host.key_path,
        lookup_file=host.path(host.mta.lookup_file),
        signing=signing,
        key_group=host.key_group,
    )
    for finding in findings:
        print(f"{finding.level}: {finding.message}")
        if finding.fix:
            print(f"  fix: {finding.fix}")
    if any(f.level == "fail" for f in findings):
        raise typer.Exit(EXIT_CHECK_FAILED)
    print("exim: DKIM signing is set up for every active selector")


__all__ = ["keys_app", "mta", "rotate"]
