"""What every command shares: the run's typed context (set by the app's callback, passed in
typer's `ctx.obj`), the common options and choices, and the consoles.

Choices are Enums so that typer validates them and lists them in `--help`; the app turns a
wrong choice into one `error:` line. Nothing here imports the core: `mailzone --help` stays fast."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from mailzone.check.families import DNS_NAMES, NETWORK_NAMES
from mailzone.check.families import NAMES as CHECK_NAMES
from mailzone.mta.kinds import KINDS as MTA_KINDS
from mailzone.repo.shard import Shard, parse_shard

if TYPE_CHECKING:
    from rich.console import Console

    from mailzone.cli.render.plan import Output
    from mailzone.repo.project import Project
    from mailzone.spec.host import HostConfig


@dataclass(frozen=True)
class Context:
    """One run of the `mailzone` command: global options."""

    root: Path
    verbose: int = 0

    @classmethod
    def of(cls, ctx: typer.Context) -> Context:
        """The context the app's callback stored for this run."""
        obj = ctx.find_root().obj
        assert isinstance(obj, Context), "the app callback sets the context"
        return obj

    def host(self, path: Path | None) -> HostConfig:
        """The mail host's config (`--host-config`, `$MAILZONE_HOST_CONFIG`, /etc, or none);
        warns on stderr when keys are still in the old default, `build/keys/`."""
        from mailzone.dkim.store import stranded_keys
        from mailzone.spec.host import load_host_config

        host = load_host_config(path, self.root)
        note = stranded_keys(host)
        if note:
            console(stderr=True).print(f"warning: {note}", markup=False)
        return host

    def project(self, domains: list[str] | None, shard: Shard | None = None) -> Project:
        """Every spec of the repository (with `shard`: what it needs); unknown `domains` and an
        empty repository are errors."""
        from mailzone.errors import MailzoneError
        from mailzone.repo.project import load_project

        project = load_project(self.root, shard=shard)
        if not project.names:
            raise MailzoneError(f"no specs in {self.root / 'zones'}: start with `mailzone init`")
        project.select(domains or [])  # unknown names are an error
        return project

    @contextlib.contextmanager
    def locked(
        self, timeout: float, backup_dir: Path | None = None, key_dir: Path | None = None
    ) -> Iterator[None]:
        """Hold the repository's lock (`--lock-timeout`), saying on stderr that it waits and
        which stale temp files it removed (in `backup_dir` and `key_dir` too)."""
        from mailzone.repo.lock import repo_lock

        err = console(stderr=True)
        with repo_lock(
            self.root,
            timeout,
            lambda line: err.print(line, markup=False),
            backup_dir=backup_dir,
            key_dir=key_dir,
        ):
            yield


TextJson = Literal["text", "json"]
PlanFormat = Literal["text", "json", "markdown"]
RecordsFormat = Literal["zone", "json"]
SchemaFormat = Literal["json", "markdown"]
DmarcPolicy = Literal["none", "quarantine", "reject"]

# the check families and MTA kinds come from their registries
CheckFamily = Enum("CheckFamily", {name: name for name in CHECK_NAMES}, type=str)  # type: ignore[misc]
DnsFamily = Enum("DnsFamily", {name: name for name in (*DNS_NAMES, "all")}, type=str)  # type: ignore[misc]
NetworkFamily = Enum("NetworkFamily", {name: name for name in (*NETWORK_NAMES, "all")}, type=str)  # type: ignore[misc]
MtaKind = Enum("MtaKind", {name: name for name in MTA_KINDS}, type=str)  # type: ignore[misc]

DomainsArg = Annotated[
    list[str] | None, typer.Argument(help="Mail domains (default: every spec).", show_default=False)
]


def _shard(text: str | None) -> Shard | None:
    if text is None or isinstance(text, Shard):
        return text
    try:
        return parse_shard(text)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None


ShardOpt = Annotated[
    Shard | None,
    typer.Option(
        "--shard",
        parser=_shard,
        metavar="K/N",
        help="Only the zones of shard K of N (a stable split by DNS zone, for parallel CI jobs).",
        show_default=False,
    ),
]


def empty_shard(shard: Shard | None) -> bool:
    """Whether `--shard` left nothing to do; if so, says so on stderr."""
    if shard is None:
        return False
    console(stderr=True).print(f"shard {shard} holds no zone", markup=False)
    return True


JobsOpt = Annotated[
    int,
    typer.Option(
        "--jobs", min=1, max=64, help="Zones read at once (threads, or reads sent ahead)."
    ),
]
LOCK_TIMEOUT = 60.0  # seconds a writing run waits for another one to end
LockTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--lock-timeout",
        min=0,
        help="Seconds to wait while another mailzone run holds the repository's lock "
        "(state/.mailzone.lock); 0: fail at once.",
    ),
]
TextJsonOpt = Annotated[TextJson, typer.Option("--format", help="Output format.")]
PlanFormatOpt = Annotated[PlanFormat, typer.Option("--format", help="Output format.")]
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


def resolver(text: str | None, option: str = "--nameserver") -> tuple[str, int] | None:
    """A `--nameserver` value as (host, port)."""
    from mailzone.errors import MailzoneError
    from mailzone.util.endpoint import parse_endpoint

    if text is None:
        return None
    try:
        return parse_endpoint(text)
    except ValueError as err:
        raise MailzoneError(f"{option}: {err}") from None


def output() -> Output:
    """Where plans and outcomes are printed (stdout, errors on stderr)."""
    from mailzone.cli.render.plan import Output

    return Output(sys.stdout, sys.stderr, color=sys.stdout.isatty())


def console(stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr) that prints text as it is."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # piped output (CI logs) gets wide lines instead of rich's 80-column default
    width = None if stream.isatty() else 160
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)
