"""`mailzone ci`: helpers for CI workflows (`ci matrix`), registered by `mailzone.cli.app`."""

from __future__ import annotations

import os
import sys
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
    import json

    line = json.dumps({"shard": [f"{k}/{count}" for k in range(1, count + 1)]})
    if target:
        try:
            with Path(target).open("a", encoding="utf-8") as out:
                out.write(f"matrix={line}\n")
        except OSError as err:
            raise MailzoneError(f"--github-output: {target}: {err.strerror}") from None
    print(line)


@ci_app.command("merge")
def merge(
    kind: Annotated[
        Literal["plan", "apply", "check", "rotate"],
        typer.Argument(help="The command whose results these are."),
    ],
    files: Annotated[
        list[Path],
        typer.Argument(help="Each shard's `--format json` output.", show_default=False),
    ],
    fmt: Annotated[
        Literal["text", "markdown", "json"], typer.Option("--format", help="Output format.")
    ] = "text",
) -> None:
    """Merge the `--format json` results of a run's shards (`--shard K/N`) into one result, as
    one run would print it, and exit with one code: 1 if any shard's is 1, else 3 if any is 3,
    else 4 if any is 4, else 2 if any is 2, else 0."""
    from mailzone.cli.render.results import print_merged
    from mailzone.repo.results import merge_results, read_result

    merged = merge_results(kind, [(str(f), read_result(f, kind)) for f in files])
    print_merged(kind, merged, fmt, sys.stdout)
    if merged["exit_code"]:
        raise typer.Exit(merged["exit_code"])


@ci_app.command("comment")
def comment(
    plan: Annotated[
        Path,
        typer.Option(
            "--plan",
            help="The plan, as `mailzone plan --format markdown` wrote it.",
            dir_okay=False,
        ),
    ],
    pr: Annotated[
        int | None,
        typer.Option(
            "--pr",
            min=1,
            help="The pull request (default: the one $GITHUB_EVENT_PATH describes).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Post the plan as ONE pull-request comment, edited in place on every run (found by
    `<!-- mailzone-plan -->`), and append it to $GITHUB_STEP_SUMMARY. Without $GITHUB_TOKEN,
    or for a pull request from a fork, it posts nothing and says why (exit 0)."""
    from mailzone.repo import github_report as report
    from mailzone.repo.github import GitHub

    markdown = _read_text(plan, "--plan")
    environ = os.environ
    request = report.pull_request_of(pr, environ)
    if report.append_step_summary(environ, markdown):
        print("ci comment: plan appended to the job summary")
    api = GitHub.from_environ(environ)
    if api is None:
        print(f"ci comment: GITHUB_TOKEN is not set; nothing posted on #{request.number}")
        return
    if request.fork:
        print(
            f"ci comment: #{request.number} comes from the fork {request.fork}, whose token "
            "cannot comment; nothing posted"
        )
        return
    body = report.plan_comment_body(markdown, report.run_url(environ))
    print(f"ci comment: {report.upsert_comment(api, request.number, body)}")


@ci_app.command("issue")
def issue(
    title: Annotated[
        str | None, typer.Option("--title", help="The issue's title.", show_default=False)
    ] = None,
    body: Annotated[
        Path | None,
        typer.Option("--body", help="A file with the issue's text (Markdown).", dir_okay=False),
    ] = None,
    resolved: Annotated[
        bool,
        typer.Option(
            "--resolved", help="The checks pass again: comment on the issue and close it."
        ),
    ] = False,
) -> None:
    """Raise drift as ONE open issue (found by `<!-- mailzone-drift -->`; its title and text
    are replaced on every failing run), or close it with `--resolved`. Needs $GITHUB_TOKEN
    (an alarm that cannot ring is an error)."""
    from mailzone.repo import github_report as report
    from mailzone.repo.github import GitHub

    if resolved == bool(title or body):
        raise MailzoneError("ci issue: give --title and --body, or --resolved")
    if not resolved and not (title and body):
        raise MailzoneError("ci issue: give both --title and --body")
    text = _read_text(body, "--body") if body else ""
    api = GitHub.from_environ(os.environ)
    if api is None:
        raise MailzoneError("ci issue: GITHUB_TOKEN is not set; the drift issue cannot be updated")
    url = report.run_url(os.environ)
    if resolved:
        print(f"ci issue: {report.resolve_drift_issue(api, url)}")
        return
    assert title is not None
    said = report.upsert_drift_issue(api, title.strip(), report.drift_issue_body(text, url))
    print(f"ci issue: {said}")


def _read_text(path: Path, option: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise MailzoneError(f"{option}: {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise MailzoneError(f"{option}: {path}: not UTF-8 text") from None


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
        "(zones per apply or drift job, default 500)."
    )
