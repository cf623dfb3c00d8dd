"""`mailzone mta-sts write`: the MTA-STS policy files for the web server, registered by
`mailzone.cli.app`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailzone.cli.context import Context, DomainsArg, console

mta_sts_app = typer.Typer(help="MTA-STS policy files.", no_args_is_help=True)


@mta_sts_app.command("write")
def write(
    ctx: typer.Context,
    out_dir: Annotated[
        Path, typer.Argument(help="The web server's root for the mta-sts hosts.", metavar="DIR")
    ],
    domains: DomainsArg = None,
) -> None:
    """Write DIR/<domain>/.well-known/mta-sts.txt for each domain with mta_sts (serve it at
    https://mta-sts.<domain>/.well-known/mta-sts.txt), then apply: its id is in DNS."""
    from mailzone.repo.mta_sts import write_policies

    run = Context.of(ctx)
    project = run.project(domains)
    written = write_policies(project.select(domains or []), out_dir, named=bool(domains))
    out = console()
    for path in written:
        out.print(f"wrote {path}", markup=False)
