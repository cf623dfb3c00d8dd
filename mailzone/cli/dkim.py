"""The DKIM commands: `rotate`, `keys list|import|health`, `mta exim|opendkim|rspamd`.

Registered on the main app by `mailzone.cli.app`; heavy modules are imported inside the commands."""

from __future__ import annotations

import contextlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mailzone.cli.context import (
    LOCK_TIMEOUT,
    Context,
    DomainsArg,
    HostOpt,
    JobsOpt,
    LockTimeoutOpt,
    MtaKind,
    NameserverOpt,
    ShardOpt,
    TextJsonOpt,
    console,
    empty_shard,
    output,
    resolver,
)
from mailzone.errors import EXIT_CHANGES, EXIT_CHECK_FAILED, EXIT_ERROR, EXIT_OK, MailzoneError

if TYPE_CHECKING:
    from mailzone.dkim.rotate import RotateResult
    from mailzone.spec.host import HostConfig
    from mailzone.spec.state import DomainState

keys_app = typer.Typer(help="DKIM selectors and their keys.", no_args_is_help=True)


def rotate(
    ctx: typer.Context,
    domains: DomainsArg = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="Act as if it were this ISO 8601 time. Without --dry-run the run is real: it "
            "saves that time in the state (after a future --now, later runs refuse until then).",
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
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Say what each domain would do and why; write nothing (no key, state, MTA "
            "file or DNS change). Exit code 2 when a step is due.",
        ),
    ] = False,
    commit: Annotated[
        bool,
        typer.Option(
            "--commit",
            help="git commit the state/ files this run changed (nothing else; refused if "
            "anything is already staged), one line per domain in the message.",
        ),
    ] = False,
    push: Annotated[
        bool,
        typer.Option(
            "--push",
            help="--commit, then push to the branch's upstream (a rejected push is rebased "
            "and retried, never forced).",
        ),
    ] = False,
    host_config: HostOpt = None,
    nameserver: NameserverOpt = None,
    fmt: TextJsonOpt = "text",
    jobs: JobsOpt = 4,
    lock_timeout: LockTimeoutOpt = LOCK_TIMEOUT,
    shard: ShardOpt = None,
) -> None:
    """Advance DKIM key rotation as far as is safe now (idempotent; run it hourly from a timer)."""
    from mailzone.cli.render import dkim as render_dkim
    from mailzone.dkim.rotate import RotateResult, parse_now
    from mailzone.dkim.rotate import rotate as run_rotation
    from mailzone.dns.query import Dns
    from mailzone.repo import git

    if emergency and not domains:
        raise MailzoneError("--emergency: name the domain(s) whose key is compromised")
    if push and not commit:
        raise MailzoneError("--push: only with --commit")
    commit = commit and not dry_run
    run = Context.of(ctx)
    when = parse_now(now)
    host = run.host(host_config)
    server = resolver(nameserver)

    if apply and not dry_run:
        from mailzone.octo.sync import ProviderCache

        # a provider file that cannot be used fails the run before any key or state is written
        cache = ProviderCache(run.root)
        for domain in run.project(domains).select(domains or [], shard):
            cache.get(domain.spec.provider)

    def publish(names: list[str]) -> list[str]:
        return publish_rotation(run.root, names, jobs, quiet=fmt == "json")

    def step(at: datetime, urgent: bool, dry: bool) -> RotateResult:
        project = run.project(domains)  # read again each step: the last one changed the states
        return run_rotation(
            project,
            project.select(domains or [], shard),
            host,
            at,
            dns=Dns(server),
            emergency=urgent,
            apply=publish if apply else None,
            dry_run=dry,
        )

    # bad specs or states fail before the lock is taken
    if not run.project(domains).select(domains or [], shard) and empty_shard(shard):
        if fmt == "json":  # a result all the same, for `ci merge`
            empty = render_dkim.rotation_json([RotateResult([], dry_run=dry_run)])
            import json

            print(json.dumps(empty, indent=2))
        return
    if commit:
        git.check_ready(run.root, push)
    committed: list[str] = []
    commit_error: MailzoneError | None = None
    with contextlib.nullcontext() if dry_run else run.locked(lock_timeout, key_dir=host.key_path):
        before = git.state_files(run.root) if commit else {}
        result = step(when, emergency, dry_run)
        results = [result]
        if emergency and apply and not dry_run and not result.failed:
            # the new selector is published: finish the emergency as soon as every server serves it
            deadline = time.monotonic() + wait
            while True:
                again = step(when if now else datetime.now(UTC), False, False)
                if (
                    not any(r.waiting for r in again.runs)
                    or time.monotonic() >= deadline
                    or again.failed
                ):
                    results.append(again)
                    break
                time.sleep(1)
        if commit:
            try:  # what was saved is true even when a domain failed: commit it all the same
                commit_rotation(run.root, before, results, push, committed)
            except MailzoneError as err:
                commit_error = err
    code = EXIT_OK
    if commit_error or any(r.failed for r in results):
        code = EXIT_ERROR
    elif dry_run and result.due:
        code = EXIT_CHANGES
    render_dkim.print_rotation(results, fmt, sys.stdout, sys.stderr, applied=apply, exit_code=code)
    for line in committed:
        print(line, file=sys.stderr if fmt == "json" else sys.stdout)
    if commit_error:
        raise commit_error
    if code != EXIT_OK:
        raise typer.Exit(code)


def commit_rotation(
    root: Path, before: dict[str, bytes], results: list[RotateResult], push: bool, said: list[str]
) -> None:
    """`rotate --commit [--push]`: commit the state files that differ from `before`, with what
    happened to each domain, and push; the lines to print go to `said` as they happen (a failed
    push still says what was committed)."""
    from mailzone.repo import git
    from mailzone.repo.state import STATE_DIR

    changed = git.changed_files(before, git.state_files(root))
    if not changed:
        said.append("git: no state changed; nothing to commit")
        return
    names = [Path(p).stem for p in changed]
    lines = [f"mailzone rotate: {len(names)} domain(s) changed", ""]
    for name in names:
        done = [
            f"{name}: {d}" for res in results for r in res.runs if r.domain == name for d in r.done
        ]
        lines += done or [f"{name}: state updated"]
    commit_id = git.commit_state(root, changed, "\n".join(lines) + "\n")
    said.append(f"git: committed {commit_id} ({', '.join(f'{STATE_DIR}/{n}.yaml' for n in names)})")
    if push:
        tries = git.push(root)
        said.append("git: pushed" + (f" after {tries} attempts" if tries > 1 else ""))


def publish_rotation(root: Path, names: list[str], jobs: int, quiet: bool = False) -> list[str]:
    """Publish what rotation changed in the named domains (their DKIM selectors and registry
    entries; no confirmation: rotate runs from timers) and say which other changes are pending
    for `mailzone apply`; error lines. `quiet` (rotate --format json): the apply summary goes
    to stderr, keeping stdout JSON."""
    from mailzone.cli.render import dkim as render_dkim
    from mailzone.cli.render import plan as render
    from mailzone.octo.sync import ProviderCache, apply_all, plan_all, rotation_tasks
    from mailzone.repo.project import load_project

    project = load_project(root)
    cache = ProviderCache(root)
    plans = plan_all(project, rotation_tasks(project, names), cache, jobs=jobs)
    outcomes = apply_all(plans, cache, root / "build" / "backups", datetime.now(UTC), jobs=jobs)
    out = render.Output(sys.stderr, sys.stderr) if quiet else output()
    render.print_outcomes(outcomes, out)
    render_dkim.print_held(plans, out.out)
    return [f"apply {o.error_line}" for o in outcomes if o.status == "error"]


@keys_app.command("list")
def keys_list(
    ctx: typer.Context,
    domains: DomainsArg = None,
    host_config: HostOpt = None,
    fmt: TextJsonOpt = "text",
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Also read each private key this host holds and check that its public half "
            "is the key the state publishes (without it, keys list reads no private key).",
        ),
    ] = False,
) -> None:
    """Selectors, phases and fingerprints (and whether this host holds each private key, and
    what is wrong with it: a symbolic link, its owner, mode or group)."""
    from mailzone.cli.render import dkim as render_dkim
    from mailzone.dkim.selectors import list_keys

    run = Context.of(ctx)
    project = run.project(domains)
    rows = list_keys(project.select(domains or []), run.host(host_config), verify=verify)
    if fmt == "json":
        import json

        print(json.dumps([render_dkim.row_json(r) for r in rows], indent=2))
    else:
        print(render_dkim.key_table(rows))
    for line in render_dkim.key_problems(rows):
        print(f"warning: {line}", file=sys.stderr)


@keys_app.command("import")
def keys_import(
    ctx: typer.Context,
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
    lock_timeout: LockTimeoutOpt = LOCK_TIMEOUT,
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
    run = Context.of(ctx)
    run.project([domain])  # bad specs or states fail before the lock is taken
    host = run.host(host_config)
    with run.locked(lock_timeout, key_dir=host.key_path):
        (item,) = run.project([domain]).select([domain])  # read again under the lock
        entry = import_key(run.root, item, selector, pem, host, when)
    out = console()
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


def mta(
    ctx: typer.Context,
    kind: Annotated[MtaKind, typer.Argument(help="The MTA.")],
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

    run = Context.of(ctx)
    host = run.host(host_config)
    project = run.project(domains)
    names = {d.name for d in project.select(domains or [])}
    states = [d.state for d in project.domains.values() if d.name in names]
    if check:
        _check_mta(kind.value, host, states, etc_dir)
        return
    for item in render_files(kind.value, states, host):
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


@keys_app.command("health")
def keys_health(
    ctx: typer.Context,
    domains: DomainsArg = None,
    now: Annotated[
        str | None,
        typer.Option("--now", help="Judge as if it were this ISO 8601 time.", show_default=False),
    ] = None,
    fmt: TextJsonOpt = "text",
    shard: ShardOpt = None,
) -> None:
    """Is rotation still moving? From the specs and states alone (no DNS, no key): exit 3 naming
    each domain whose active key is older than max_age or whose pending key waited too long."""
    from mailzone.cli.render import dkim as render_dkim
    from mailzone.dkim.health import rotating, rotation_problems
    from mailzone.dkim.rotate import parse_now

    when = parse_now(now)
    selected = Context.of(ctx).project(domains).select(domains or [], shard)
    if not selected and empty_shard(shard):
        return
    checked = rotating(selected)
    problems = rotation_problems(checked, when)
    if fmt == "json":
        import json

        print(json.dumps(render_dkim.health_json(problems, len(checked), when), indent=2))
    else:
        for problem in problems:
            print(problem.message)
        if not problems:
            print(f"rotation health: ok, {len(checked)} domain(s) rotate keys, none stalled")
    if problems:
        raise typer.Exit(EXIT_CHECK_FAILED)


__all__ = ["commit_rotation", "keys_app", "mta", "publish_rotation", "rotate"]
