"""`mailzone hook install`: server-side git hooks for a self-hosted repository, registered by
`mailzone.cli.app`."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from mailzone.cli.context import console

hook_app = typer.Typer(help="Git hooks for a self-hosted repository.", no_args_is_help=True)


@hook_app.command("install")
def install(
    git_dir: Annotated[
        Path,
        typer.Option(
            "--git-dir", help="The repository users push to (bare, or a work tree).", metavar="DIR"
        ),
    ],
    branch: Annotated[str, typer.Option("--branch", help="The branch that is applied.")] = "main",
    work_tree: Annotated[
        Path | None,
        typer.Option(
            "--work-tree",
            help="The deploy checkout, where the pushed branch is applied (holds state/ and "
            "build/). Default: GIT_DIR/mailzone-checkout.",
            show_default=False,
        ),
    ] = None,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            help="KEY=VALUE lines the hooks load first: the providers' env/ secrets "
            "(e.g. /etc/mailzone/env).",
            show_default=False,
        ),
    ] = None,
    log: Annotated[
        Path | None,
        typer.Option(
            "--log",
            help="Where every apply's output is appended. Default: GIT_DIR/mailzone-apply.log.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace hooks that mailzone did not write.")
    ] = False,
) -> None:
    """Install a pre-receive hook that refuses a push of BRANCH whose specs are invalid, and a
    post-receive hook that applies the pushed BRANCH (`apply --yes` in the deploy checkout)."""
    from mailzone.repo.hooks import install_hooks

    setup = install_hooks(
        git_dir,
        branch,
        _this_mailzone(),
        work_tree=work_tree,
        env_file=env_file,
        log=log,
        force=force,
    )
    out = console()
    for path in setup.hooks:
        out.print(f"installed {path}", markup=False)
    out.print(f"pushes to {branch} are validated, then applied in {setup.work_tree}", markup=False)
    out.print(f"apply log: {setup.log}", markup=False)


def _this_mailzone() -> list[str]:
    """The absolute command that runs this mailzone: its console script, else `python -m
    mailzone` with this interpreter (symlinks kept: a venv's python is one)."""
    script = shutil.which(sys.argv[0]) if Path(sys.argv[0]).name == "mailzone" else None
    if script:
        return [os.path.abspath(script)]
    return [os.path.abspath(sys.executable), "-m", "mailzone"]
