"""The `mailzone` command: parse options, call the core, hand results to `render`.

Heavy modules (octoDNS, pydantic models, rich) are imported inside the commands so that
`mailzone --help` stays fast."""

from __future__ import annotations

import atexit
import gc
import logging
import os
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mailzone.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, MailzoneError

# pydantic scans every installed distribution for plugins at first use (~15 ms); a CLI has none
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

if TYPE_CHECKING:
    from rich.console import Console

    from mailzone.cli.render.plan import Output
    from mailzone.octo.sync import ProviderCache, ZonePlan

app = typer.Typer(
    name="mailzone",
    help="Declarative mail DNS: specs in zones/, applied through octoDNS, checked live.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

RootOpt = Annotated[
    Path, typer.Option("--root", help="Directory holding zones/, state/ and providers/.")
]
DomainsArg = Annotated[
    list[str] | None, typer.Argument(help="Mail domains (default: every spec).", show_default=False)
]
FormatOpt = Annotated[str, typer.Option("--format", help="text, json or markdown.")]
TextJsonOpt = Annotated[str, typer.Option("--format", help="text or json.")]
JobsOpt = Annotated[int, typer.Option("--jobs", min=1, max=64, help="Zones read concurrently.")]


class _State:
    root: Path = Path(".")
    verbose: int = 0


STATE = _State()


def _output() -> Output:
    from mailzone.cli.render.plan import Output

    return Output(sys.stdout, sys.stderr, color=sys.stdout.isatty())


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # piped output (CI logs) gets wide lines instead of rich's 80-column default
    width = None if stream.isatty() else 160
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if verbose == 0:
        # octoDNS explains itself at length; mailzone reports what matters in its own output
        for name in (
            "octodns",
            "Manager",
            "Plan",
            "Record",
            "Zone",
            "MailzoneProcessor",
            "LocalZoneFileProvider",
        ):
            logging.getLogger(name).setLevel(logging.ERROR)
        logging.getLogger().setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


@app.callback()
def _main(
    root: RootOpt = Path("."),
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More logging (-vv: debug).")
    ] = 0,
) -> None:
    STATE.root = root
    STATE.verbose = verbose
    _setup_logging(verbose)


@app.command()
def init(
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
        str, typer.Option("--dmarc-policy", help="none, quarantine or reject.")
    ] = "none",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing spec.")] = False,
    host_config: Annotated[
        Path | None,
        typer.Option(
            "--host-config",
            help="Where the first DKIM key goes (default: $MAILZONE_HOST_CONFIG, else "
            "/etc/mailzone/host.yaml if it exists, else build/keys/).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write zones/DOMAIN.yaml for one mail server, and its first DKIM key."""
    from mailzone.dkim.selectors import first_keys
    from mailzone.repo.scaffold import NEXT_STEPS, scaffold
    from mailzone.spec.host import load_host_config
    from mailzone.spec.yamlfile import display_path

    if dmarc_policy not in ("none", "quarantine", "reject"):
        raise MailzoneError(
            f"--dmarc-policy: '{dmarc_policy}' is not one of none, quarantine, reject"
        )
    host = load_host_config(host_config, STATE.root)  # a bad host.yaml stops init before any write
    path = scaffold(
        STATE.root, domain, mail_host, ipv4 or [], ipv6 or [], provider, dmarc_policy, force
    )
    console = _console()
    console.print(f"wrote {display_path(path)}", markup=False)
    name = path.name[: -len(".yaml")]
    for entry in first_keys(
        STATE.root, name, ["rsa"], 2048, host, datetime.now(UTC).replace(microsecond=0)
    ):
        console.print(
            f"new DKIM key {entry.selector} ({entry.algorithm}-{entry.bits}) in "
            f"{display_path(host.key_path)}; apply publishes it, and `mailzone rotate` makes "
            "it the signing key once every nameserver serves it",
            markup=False,
        )
    console.print(NEXT_STEPS.format(domain=name, policy=dmarc_policy), markup=False)


@app.command("validate")
def validate_cmd() -> None:
    """Check every spec, state and provider file; exit 1 on any error."""
    from mailzone.octo.providers import check_provider_file
    from mailzone.repo.validate import validate_repository

    errors, notes = validate_repository(STATE.root, check_provider_file)
    err = _console(stderr=True)
    for line in notes:
        err.print(f"warning: {line}", markup=False)
    for line in errors:
        err.print(f"error: {line}", markup=False)
    if errors:
        raise typer.Exit(EXIT_ERROR)
    _console().print("all specs, states and provider files are valid")


@app.command()
def records(
    domain: Annotated[str, typer.Argument(help="The mail domain.")],
    fmt: FormatOpt = "zone",
) -> None:
    """Print the records a domain wants, as zone-file lines (or --format json)."""
    import json

    from mailzone.repo.project import load_project

    project = load_project(STATE.root)  # all: another domain's DMARC reports may add records here
    (item,) = project.select([domain])
    console = _console()
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
        console.print_json(json.dumps(data))
        return
    if fmt != "zone":
        raise MailzoneError(f"--format: '{fmt}' is not one of zone, json")
    lines = [f"$ORIGIN {item.zone}."] + [
        line for r in item.records for line in r.zone_lines(item.zone)
    ]
    console.print("\n".join(lines), markup=False)


def _plan(
    domains: list[str] | None, adopt: bool, jobs: int
) -> tuple[list[ZonePlan], ProviderCache]:
    from mailzone.octo.sync import ProviderCache, plan_all, zone_tasks
    from mailzone.repo.project import load_project

    project = load_project(STATE.root)
    selected = project.select(domains or [])
    # with every spec removed, the zones their states name are still planned: the plan warns
    # that their records are still in DNS and names the forget command
    tasks = zone_tasks(project, selected, include_stale=not domains)
    if not tasks:
        raise MailzoneError(f"no specs in {STATE.root / 'zones'}: start with `mailzone init`")
    cache = ProviderCache(STATE.root)
    return plan_all(project, tasks, cache, adopt=adopt, jobs=jobs), cache


def _print_plan(plans: list[ZonePlan], fmt: str, show: bool = True) -> None:
    """The plan on stdout in `fmt` (unless not `show`), and each zone's error on stderr."""
    from mailzone.cli.render import plan as render

    printers = {
        "text": render.print_plan_text,
        "json": render.print_plan_json,
        "markdown": render.print_plan_markdown,
    }
    if fmt not in printers:
        raise MailzoneError(f"--format: '{fmt}' is not one of text, json, markdown")
    if show:
        printers[fmt](plans, _output())
    render.print_errors(plans, _output())


@app.command()
def plan(
    domains: DomainsArg = None,
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 2 when changes are pending.")
    ] = False,
    fmt: FormatOpt = "text",
    adopt: Annotated[
        bool, typer.Option("--adopt", help="Show the plan as apply --adopt would run it.")
    ] = False,
    jobs: JobsOpt = 4,
) -> None:
    """Show what apply would change in live DNS."""
    plans, _ = _plan(domains, adopt, jobs)
    _print_plan(plans, fmt)
    if any(zp.error for zp in plans):
        raise typer.Exit(EXIT_ERROR)
    if exit_code and any(zp.pending for zp in plans):
        raise typer.Exit(EXIT_CHANGES)


@app.command()
def apply(
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
    fmt: FormatOpt = "text",
    jobs: JobsOpt = 4,
) -> None:
    """Make live DNS match the specs (after showing the plan)."""
    from mailzone.cli.render import plan as render
    from mailzone.octo.sync import apply_all

    plans, cache = _plan(domains, adopt, jobs)
    _print_plan(plans, fmt, show=fmt != "json")
    pending = [zp for zp in plans if zp.pending and not zp.error]
    if pending and not yes and sys.stdin.isatty():
        count = sum(len(zp.changes) for zp in pending)
        if not typer.confirm(f"Apply {count} change(s) to {len(pending)} zone(s)?", default=False):
            raise typer.Exit(EXIT_ERROR)
    now = datetime.now(UTC)
    backups = backup_dir or STATE.root / "build" / "backups"
    outcomes = apply_all(plans, cache, backups, now, force=force, adopt=adopt, jobs=jobs)
    if fmt == "json":
        render.print_apply_json(plans, outcomes, _output())
    else:
        render.print_outcomes(outcomes, _output())
    if any(o.status == "error" for o in outcomes):
        raise typer.Exit(EXIT_ERROR)


@app.command()
def forget(
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
) -> None:
    """Drop a domain from mailzone's registry; with --delete-records, delete what mailzone created."""
    from mailzone.cli.render import plan as render
    from mailzone.octo.forget import forget_state, plan_forget
    from mailzone.octo.sync import apply_zone

    zp, cache = plan_forget(STATE.root, domain, delete_records, zone, provider)
    # deleting the domain's MX, SPF and DMARC is what was asked; a DKIM key the state still has is not
    zp.guard = [g for g in zp.guard if g.kind.startswith("dkim")]
    _print_plan([zp], "text")
    if zp.pending and not yes and sys.stdin.isatty() and not typer.confirm("Apply?", default=False):
        raise typer.Exit(EXIT_ERROR)
    backups = STATE.root / "build" / "backups"
    outcome = apply_zone(
        zp, cache, backups, datetime.now(UTC), force=force or not zp.guard, adopt=False
    )
    render.print_outcomes([outcome], _output())
    if outcome.status == "error":
        raise typer.Exit(EXIT_ERROR)
    for name in [d.name for d in zp.task.forget] + zp.task.release:  # the one domain forgotten
        forget_state(STATE.root, name)


@app.command()
def schema(
    fmt: Annotated[
        str, typer.Option("--format", help="json, or markdown (the field table).")
    ] = "json",
) -> None:
    """Print the JSON Schema of zone specs (for editors' YAML language servers)."""
    import json

    from mailzone.spec.fields import field_table
    from mailzone.spec.zone import ZoneSpec

    if fmt == "markdown":
        print(field_table())
    elif fmt == "json":
        print(json.dumps(ZoneSpec.model_json_schema(by_alias=True), indent=2))
    else:
        raise MailzoneError(f"--format: '{fmt}' is not one of json, markdown")


def main() -> None:
    """Console entry point: one line per error, exit codes 0/1/2/3."""
    _short_lived_gc()
    try:
        code = app(standalone_mode=False)
    except MailzoneError as err:
        for line in err.details:
            print(f"error: {line}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except typer.TyperException as err:  # usage errors: exit 1, since 2 means "changes pending"
        show = getattr(err, "show", None)
        if callable(show):
            show()
        else:
            print(f"error: {err.format_message()}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        sys.exit(EXIT_ERROR)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _short_lived_gc() -> None:
    """Tune the cyclic garbage collector for one short run (only the console entry point).

    A run builds its objects (modules, pydantic schemas, octoDNS zones) and keeps most of them
    until it exits. With the default thresholds (a pass every 700 new containers) the collector
    rescans them over and over, ~40 ms of a 100-zone plan, and once more at interpreter exit,
    ~50 ms. Collect rarely (cyclic garbage is still freed, in bigger batches), and at exit
    freeze what is alive so that the final pass skips it: atexit handlers and module teardown
    still run; the memory goes back to the OS with the process."""
    gc.set_threshold(50_000, 20, 100)
    atexit.register(gc.freeze)


# registers the rotate, keys, mta and check commands
from mailzone.cli import check, dkim  # noqa: E402,F401
