"""`mailzone ci`: helpers for CI workflows (`ci matrix`), registered by `mailzone.cli.app`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Literal

import typer

from mailzone.cli.context import Context
from mailzone.errors import MailzoneError
from mailzone.repo.shard import MAX_SHARDS

ci_app = typer.Typer(help="Helpers for CI workflows.", no_args_is_help=True)


@ci_app.command("matrix")
def matrix(
    ctx: typer.Context,
    max_shards: Annotated[
        int,
        typer.Option(
            "--max-shards",
            min=1,
            max=MAX_SHARDS,
            help=f"At most this many shards (jobs; GitHub runs at most {MAX_SHARDS} per matrix).",
        ),
    ] = 16,
    domains_per_shard: Annotated[
        int,
        typer.Option("--domains-per-shard", min=1, help="About this many zones per shard."),
    ] = 500,
    fmt: Annotated[
        Literal["json"], typer.Option("--format", help="Output format (the matrix is JSON).")
    ] = "json",
    github_output: Annotated[
        bool,
        typer.Option(
            "--github-output", help="Also append `matrix=<json>` to the file $GITHUB_OUTPUT names."
        ),
    ] = False,
) -> None:
    """Print the GitHub Actions matrix of `--shard K/N` values, sized from the number of zones:
    `{"shard": ["1/3", "2/3", "3/3"]}`, for `strategy.matrix` via `fromJSON`."""
    from mailzone.repo.shard import shard_count

    target = os.environ.get("GITHUB_OUTPUT") if github_output else None
    if github_output and not target:
        raise MailzoneError("--github-output: $GITHUB_OUTPUT is not set")
    project = Context.of(ctx).project(None)
    zones = {d.zone for d in project.domains.values()}
    count = shard_count(len(zones), max_shards, domains_per_shard)
    line = json.dumps({"shard": [f"{k}/{count}" for k in range(1, count + 1)]})
    if target:
        try:
            with Path(target).open("a", encoding="utf-8") as out:
                out.write(f"matrix={line}\n")
        except OSError as err:
            raise MailzoneError(f"--github-output: {target}: {err.strerror}") from None
    print(line)


@ci_app.command("init")
def init(
    ctx: typer.Context,
    force: Annotated[
        bool, typer.Option("--force", help="Replace workflow files that differ from mailzone's.")
    ] = False,
) -> None:
    """Write the GitHub Actions workflows (plan on pull requests, apply on push, daily drift)
    into .github/workflows/, and print the secrets and variables they read."""
    from mailzone import __version__
    from mailzone.repo.workflows import install_workflows
    from mailzone.spec.yamlfile import display_path

    root = Context.of(ctx).root
    done = install_workflows(root, __version__, force=force)
    for path in done.written:
        print(f"wrote {display_path(path)}")
    for path in done.unchanged:
        print(f"unchanged {display_path(path)}")
    if done.env:
        print("Set these as repository secrets (or variables, for what is not secret):")
        for var in done.env:
            need = "required" if var.default is None else f"default {var.default}"
            print(f"  {var.name}: {need} ({var.where})")
    else:
        print("The providers read no environment variables: no secrets to set.")
    print(
        "Optional repository variable: MAILZONE_DOMAINS_PER_SHARD "
        "(zones per apply job, default 500)."
    )
