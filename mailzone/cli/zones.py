"""The commands on specs and live zones: init, validate, records, plan, apply, forget, schema.

Thin: parse options, call the core (repo, octo), hand results to `render`. Registered by
`mailzone.cli.app`; heavy modules are imported inside the commands."""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mailzone.cli.context import (
    LOCK_TIMEOUT,
    Context,
    DmarcPolicy,
    DomainsArg,
    JobsOpt,
    LockTimeoutOpt,
    PlanFormat,
    PlanFormatOpt,
    RecordsFormat,
    SchemaFormat,
    ShardOpt,
    console,
    empty_shard,
    output,
)
from mailzone.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, MailzoneError, one_line

if TYPE_CHECKING:
    from mailzone.octo.sync import ProviderCache, ZonePlan
    from mailzone.repo.shard import Shard


def init(
    ctx: typer.Context,
    domain: Annotated[str, typer.Argument(help="The mail domain, e.g. example.org.")],
    mail_host: Annotated[
        str,
        typer.Option("--mail-host", help="Full name of the mail server, e.g. mail.example.org."),
    ],
    ipv4: Annotated[
        list[str] | None, typer.Option("--ipv4", help="Its IPv4 address (repeatable).")
    ] = None,
    ipv6: Annotated[
        list[str] | None, typer.Option("--ipv6", help="Its IPv6 address (repeatable).")
    ] = None,
    provider: Annotated[
        str, typer.Option("--provider", help="providers/<name>.yaml, or local.")
    ] = "local",
    dmarc_policy: Annotated[
        DmarcPolicy, typer.Option("--dmarc-policy", help="The DMARC policy to start with.")
    ] = "none",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing spec.")] = False,
    host_config: Annotated[
        Path | None,
        typer.Option(
            "--host-config",
            help="Its key_dir is where the first DKIM key goes (default: $MAILZONE_HOST_CONFIG, "
            "else /etc/mailzone/host.yaml if it exists; without key_dir: $MAILZONE_KEY_DIR, else "
            "/var/lib/mailzone/keys as root, else ~/.local/share/mailzone/keys).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write zones/DOMAIN.yaml for one mail server, and its first DKIM key."""
    from mailzone.dkim.selectors import first_keys
    from mailzone.octo.providers import load_provider_def
    from mailzone.repo.scaffold import NEXT_STEPS, scaffold
    from mailzone.spec.yamlfile import display_path

    run = Context.of(ctx)
    host = run.host(host_config)  # a bad host.yaml stops init before any write
    done = scaffold(
        run.root,
        domain,
        mail_host,
        ipv4 or [],
        ipv6 or [],
        provider,
        dmarc_policy,
        force,
        check_provider=load_provider_def,
    )
    out = console()
    if done.written:
        out.print(f"wrote {display_path(done.path)}", markup=False)
    else:
        out.print(
            f"{display_path(done.path)} already holds what these options write; left as it is",
            markup=False,
        )
    if done.ignored:
        out.print(f"added {', '.join(done.ignored)} to .gitignore", markup=False)
    name = done.path.name[: -len(".yaml")]
    for entry in first_keys(
        run.root, name, ["rsa"], 2048, host, datetime.now(UTC).replace(microsecond=0)
    ):
        out.print(
            f"new DKIM key {entry.selector} ({entry.algorithm}-{entry.bits}) in "
            f"{display_path(host.key_path)}; apply publishes it, and `mailzone rotate` makes "
            "it the signing key once every nameserver serves it",
            markup=False,
        )
    if not host.key_dir:
        out.print(
            f"private keys live in {host.key_path}, outside the repository (back it up; a host "
            "config's key_dir or $MAILZONE_KEY_DIR chooses another directory)",
            markup=False,
        )
    command = _invoked_as() + ("" if run.root == Path(".") else f" --root {run.root}")
    out.print(NEXT_STEPS.format(mailzone=command, domain=name, policy=dmarc_policy), markup=False)


def _invoked_as() -> str:
    """`mailzone` as the user typed it (e.g. `.venv/bin/mailzone`), so that a printed next step
    works when pasted; plain `mailzone` when that is what the shell finds."""
    typed = sys.argv[0] if sys.argv else ""
    if Path(typed).name != "mailzone" or "/" not in typed:
        return "mailzone"
    found = shutil.which("mailzone")
    if found and Path(found).resolve() == Path(typed).resolve():
        return "mailzone"
    import shlex

    return shlex.quote(typed)


def validate(ctx: typer.Context) -> None:
    """Check every spec, state and provider file; exit 1 on any error."""
    from mailzone.octo.providers import check_provider_file
    from mailzone.repo.validate import validate_repository

    errors, notes = validate_repository(Context.of(ctx).root, check_provider_file)
    err = console(stderr=True)
    for line in notes:
        err.print(f"warning: {one_line(line)}", markup=False)
    for line in errors:
        err.print(f"error: {one_line(line)}", markup=False)
    if errors:
        raise typer.Exit(EXIT_ERROR)
    console().print("all specs, states and provider files are valid")


def records(
    ctx: typer.Context,
    domain: Annotated[str, typer.Argument(help="The mail domain.")],
    fmt: Annotated[RecordsFormat, typer.Option("--format", help="Output format.")] = "zone",
) -> None:
    """Print the records a domain wants, as zone-file lines (or --format json)."""
    import json

    from mailzone.repo.project import load_project

    project = load_project(
        Context.of(ctx).root
    )  # all: another domain's DMARC reports may add records here
    (item,) = project.select([domain])
    out = console()
    if fmt == "json":
        data = [
            {
                "name": r.name,
                "type": r.type,
                "ttl": r.ttl,
                "values": list(r.values),
                "rdata": r.rdatas(),
                "spf_only": r.spf_only,
            }
            for r in item.records
        ]
        out.print_json(json.dumps(data))
        return
    lines = [f"$ORIGIN {item.zone}."] + [
        line for r in item.records for line in r.zone_lines(item.zone)
    ]
    out.print("\n".join(lines), markup=False)


def _plan(
    root: Path, domains: list[str] | None, adopt: bool, jobs: int, shard: Shard | None
) -> tuple[list[ZonePlan], ProviderCache]:
    from mailzone.octo.sync import EarlyReads, ProviderCache, plan_all, zone_tasks
    from mailzone.repo.project import load_project

    cache = ProviderCache(root)
    early = None if domains or jobs <= 1 else EarlyReads(cache, shard)
    project = load_project(root, shard=shard, on_loaded=early.loaded if early else None)
    selected = project.select(domains or [], shard)
    # the zones of removed specs (their last version in git, or their state, names them) are
    # still planned: the plan warns that their records are still in DNS and names forget
    tasks = zone_tasks(project, selected, include_stale=not domains, shard=shard)
    if not tasks:
        if shard is None or not (project.names or zone_tasks(project, [], include_stale=True)):
            raise MailzoneError(f"no specs in {root / 'zones'}: start with `mailzone init`")
        empty_shard(shard)
    plans = plan_all(project, tasks, cache, adopt=adopt, jobs=jobs)
    # a removed spec git still remembers, already forgotten: its zone has nothing to say
    plans = [zp for zp in plans if zp.task.domains or zp.error or zp.orphans or zp.pending]
    if not plans and not project.names:
        raise MailzoneError(f"no specs in {root / 'zones'}: start with `mailzone init`")
    return plans, cache


def _print_plan(plans: list[ZonePlan], fmt: PlanFormat, show: bool = True, code: int = 0) -> None:
    """The plan on stdout in `fmt` (unless not `show`; JSON says the exit `code`), and each
    zone's error on stderr."""
    from mailzone.cli.render import plan as render

    if fmt == "json" and show:
        render.print_plan_json(plans, output(), code)
    elif show:
        {"text": render.print_plan_text, "markdown": render.print_plan_markdown}[fmt](
            plans, output()
        )
    render.print_errors(plans, output())


def plan(
    ctx: typer.Context,
    domains: DomainsArg = None,
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 2 when changes are pending.")
    ] = False,
    fmt: PlanFormatOpt = "text",
    adopt: Annotated[
        bool, typer.Option("--adopt", help="Show the plan as apply --adopt would run it.")
    ] = False,
    jobs: JobsOpt = 4,
    shard: ShardOpt = None,
) -> None:
    """Show what apply would change in live DNS."""
    plans, _ = _plan(Context.of(ctx).root, domains, adopt, jobs, shard)
    code = EXIT_OK
    if any(zp.error for zp in plans):
        code = EXIT_ERROR
    elif exit_code and any(zp.pending for zp in plans):
        code = EXIT_CHANGES
    _print_plan(plans, fmt, code=code)
    if code != EXIT_OK:
        raise typer.Exit(code)


def apply(
    ctx: typer.Context,
    domains: DomainsArg = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    adopt: Annotated[
        bool, typer.Option("--adopt", help="Replace live records mailzone did not create.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Apply plans that delete mail records or pass octoDNS's thresholds."
        ),
    ] = False,
    backup_dir: Annotated[
        Path | None,
        typer.Option(
            "--backup-dir", help="Where live zones are saved first (default build/backups)."
        ),
    ] = None,
    fmt: PlanFormatOpt = "text",
    jobs: JobsOpt = 4,
    lock_timeout: LockTimeoutOpt = LOCK_TIMEOUT,
    shard: ShardOpt = None,
) -> None:
    """Make live DNS match the specs (after showing the plan)."""
    root = Context.of(ctx).root
    from mailzone.cli.render import plan as render
    from mailzone.octo.sync import apply_all

    backups = backup_dir or root / "build" / "backups"
    with Context.of(ctx).locked(lock_timeout, backup_dir=backups):
        plans, cache = _plan(root, domains, adopt, jobs, shard)
        _print_plan(plans, fmt, show=fmt != "json")
        pending = [zp for zp in plans if zp.pending and not zp.error]
        if pending:
            count = sum(len(zp.changes) for zp in pending)
            _confirm(f"Apply {count} change(s) to {len(pending)} zone(s)?", yes)
        now = datetime.now(UTC)
        outcomes = apply_all(plans, cache, backups, now, force=force, adopt=adopt, jobs=jobs)
    code = EXIT_ERROR if any(o.status == "error" for o in outcomes) else EXIT_OK
    if fmt == "json":
        render.print_apply_json(plans, outcomes, output(), code)
    else:
        render.print_outcomes(outcomes, output())
    if code != EXIT_OK:
        raise typer.Exit(code)


def forget(
    ctx: typer.Context,
    domain: Annotated[str, typer.Argument(help="The mail domain to stop managing.")],
    delete_records: Annotated[
        bool, typer.Option("--delete-records", help="Delete the records mailzone created for it.")
    ] = False,
    zone: Annotated[
        str | None, typer.Option("--zone", help="Its zone, if its spec is gone (default: DOMAIN).")
    ] = None,
    provider: Annotated[
        str | None, typer.Option("--provider", help="Its provider, if its spec is gone.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Also delete DKIM selectors the state still has.")
    ] = False,
    lock_timeout: LockTimeoutOpt = LOCK_TIMEOUT,
) -> None:
    """Drop a domain from mailzone's registry; with --delete-records, delete what mailzone created."""
    from mailzone.cli.render import plan as render
    from mailzone.octo.forget import plan_forget
    from mailzone.octo.sync import apply_zone
    from mailzone.repo.state import forget_state

    root = Context.of(ctx).root
    with Context.of(ctx).locked(lock_timeout):
        zp, cache = plan_forget(root, domain, delete_records, zone, provider)
        # deleting its MX, SPF and DMARC is what was asked; a DKIM key the state still has is not
        zp.guard = [g for g in zp.guard if g.kind.startswith("dkim")]
        _print_plan([zp], "text")
        if zp.pending:
            _confirm("Apply?", yes)
        backups = root / "build" / "backups"
        outcome = apply_zone(
            zp, cache, backups, datetime.now(UTC), force=force or not zp.guard, adopt=False
        )
        render.print_outcomes([outcome], output())
        if outcome.status == "error":
            raise typer.Exit(EXIT_ERROR)
        for name in [d.name for d in zp.task.forget] + zp.task.release:  # the one domain forgotten
            forget_state(root, name)


def _confirm(question: str, yes: bool) -> None:
    """Go on with --yes, or when the user answers yes on a terminal; exit 1 otherwise. Without a
    terminal there is nobody to ask (`echo n | mailzone apply` must not apply): an error."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise MailzoneError("no terminal to confirm on; pass --yes")
    if not typer.confirm(question, default=False):
        raise typer.Exit(EXIT_ERROR)


def schema(
    fmt: Annotated[
        SchemaFormat, typer.Option("--format", help="json, or markdown (the field table).")
    ] = "json",
) -> None:
    """Print the JSON Schema of zone specs (for editors' YAML language servers)."""
    import json

    from mailzone.spec.fields import field_table
    from mailzone.spec.zone import ZoneSpec

    if fmt == "markdown":
        print(field_table())
    else:
        print(json.dumps(ZoneSpec.model_json_schema(by_alias=True), indent=2))
