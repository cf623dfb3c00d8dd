"""The `mailzone` command: the typer app, its commands (one module per group: zones, dkim,
check, ci, hook, mta_sts, tlsa), and the entry point that turns every error into one line and an
exit code.

Heavy modules (octoDNS, pydantic models, rich) are imported inside the commands so that
`mailzone --help` stays fast."""

from __future__ import annotations

import atexit
import difflib
import gc
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any, ClassVar

import typer
from typer.core import TyperGroup

from mailzone.cli import check, ci, dkim, hook, mta_sts, tlsa, zones
from mailzone.cli.context import Context
from mailzone.errors import EXIT_ERROR, EXIT_OK, MailzoneError, one_line

# pydantic scans every installed distribution for plugins at first use (~15 ms); a CLI has none
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


class _PlainCoercion:
    """Turns a command-line value into its type without pydantic (see `_Group`)."""

    def __init__(self, kind: type) -> None:
        self.kind = kind

    def coerce(self, value: object, param: object, ctx: object) -> object:
        return value if value is None or isinstance(value, self.kind) else self.kind(value)


class _Group(TyperGroup):
    """The top-level group. typer coerces every option through a pydantic TypeAdapter, built on
    first use; the group's own options (`--root` a path, `--verbose` a count, `--help`) are
    processed before any subcommand, so `mailzone plan --help` would import pydantic (~50 ms)
    for them. They take plain constructors instead; the commands' options keep typer's."""

    _PLAIN: ClassVar[dict[str, type]] = {"root": Path, "verbose": int, "help": bool}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for param in self.params:
            self._plain(param)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        self._plain(option)
        return option

    def _plain(self, param: Any) -> None:
        kind = self._PLAIN.get(getattr(param, "name", None) or "")
        if kind is not None and getattr(param, "_runtime_param", False) is None:
            param._runtime_param = _PlainCoercion(kind)


app = typer.Typer(
    cls=_Group,
    name="mailzone",
    help="Declarative mail DNS: specs in zones/, applied through octoDNS, checked live.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _setup_logging(verbose: int) -> None:
    import logging  # not for `--help`

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
    ctx: typer.Context,
    root: Annotated[
        Path, typer.Option("--root", help="Directory holding zones/, state/ and providers/.")
    ] = Path("."),
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More logging (-vv: debug).")
    ] = 0,
) -> None:
    ctx.obj = Context(root=root, verbose=verbose)
    _setup_logging(verbose)


app.command()(zones.init)
app.command()(zones.validate)
for _command in (zones.records, zones.plan, zones.apply, zones.forget, zones.schema):
    app.command()(_command)
app.command(help=check.HELP)(check.check)
app.command()(dkim.rotate)
app.add_typer(dkim.keys_app, name="keys")
app.command()(dkim.mta)
app.add_typer(ci.ci_app, name="ci")
app.add_typer(hook.hook_app, name="hook")
app.add_typer(mta_sts.mta_sts_app, name="mta-sts")
app.add_typer(tlsa.tlsa_app, name="tlsa")


def main() -> None:
    """Console entry point: one line per error, exit codes 0/1/2/3."""
    _short_lived_gc()
    try:
        code = app(standalone_mode=False)
    except MailzoneError as err:
        for line in err.details:
            print(f"error: {one_line(line)}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except typer.TyperException as err:  # usage errors: exit 1, since 2 means "changes pending"
        print(f"error: {usage_error(err)}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        sys.exit(EXIT_ERROR)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def usage_error(err: typer.TyperException) -> str:
    """typer's (click's) usage error as mailzone's one line: `--format: 'x' is not one of
    zone, json (did you mean 'json'?)`."""
    param = getattr(err, "param", None)
    if not isinstance(err, typer.BadParameter) or param is None or not err.message:
        return err.format_message() if hasattr(err, "format_message") else str(err)
    message = str(err.message).removeprefix("Value error, ").strip()
    choice = re.fullmatch(r"'(.*)' is not one of (.*?)\.?", message)
    if choice:
        value, options = choice.group(1), re.findall(r"'([^']*)'", choice.group(2))
        close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        message = f"'{value}' is not one of {', '.join(options)}{hint}"
    opts = [str(o) for o in getattr(param, "opts", None) or []]
    name = opts[0] if opts and opts[0].startswith("-") else str(param.name).upper()
    return f"{name}: {message}"


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
