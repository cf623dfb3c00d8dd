"""Output of the DKIM commands: what `rotate` did and waits for, the `keys list` table, and
`keys health`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from mailzone.dkim.health import RotationProblem
from mailzone.dkim.rotate import DomainRun, RotateResult, Wait
from mailzone.dkim.selectors import KeyRow
from mailzone.errors import EXIT_CHECK_FAILED, EXIT_OK
from mailzone.repo.results import SCHEMA_VERSIONS
from mailzone.spec.duration import format_duration

if TYPE_CHECKING:
    from mailzone.octo.sync import ZonePlan

HELD_SHOWN = 4


def _when(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def wait_json(wait: Wait) -> dict[str, Any]:
    """One selector's wait: for what (`publish`, `removal`, `nameservers`, or a policy
    duration), until when, and which nameservers are not as wanted (server → what it said)."""
    return {
        "selector": wait.selector,
        "phase": wait.phase,
        "waits_for": wait.reason,
        "until": _iso(wait.until),
        "nameservers": wait.nameservers,
    }


def run_json(run: DomainRun) -> dict[str, Any]:
    """One domain's run for --format json."""
    return {
        "domain": run.domain,
        "done": run.done,
        "steps": [{"step": step, "why": why} for step, why in zip(run.done, run.why, strict=True)],
        "waiting": run.waiting,
        "waits": [wait_json(w) for w in run.waits],
        "warnings": run.warnings,
        "next_due": _iso(run.next_due),
        "error": run.error,
    }


def rotation_json(results: list[RotateResult], exit_code: int = 0) -> dict[str, Any]:
    """Every round of a run (an emergency may take several) as one document (docs/json.md): per
    domain, the steps of all rounds and what the last round waits for; the exit code rotate
    returns."""
    domains: dict[str, dict[str, Any]] = {}
    for result in results:
        for run in result.runs:
            data = run_json(run)
            before = domains.get(run.domain)
            if before is not None:
                data["done"] = before["done"] + data["done"]
                data["steps"] = before["steps"] + data["steps"]
                data["error"] = before["error"] or data["error"]
            domains[run.domain] = data
    last = results[-1]
    return {
        "schema_version": SCHEMA_VERSIONS["rotate"],
        "exit_code": exit_code,
        "dry_run": last.dry_run,
        "due": last.due if last.dry_run else None,
        "domains": list(domains.values()),
        "mta_files": [str(p) for r in results for p in r.mta_files],
        "mta_due": last.mta_due,
        "apply_domains": sorted({d for r in results for d in r.apply_domains}),
        "errors": [e for r in results for e in r.errors],
    }


def print_rotation(
    results: list[RotateResult],
    fmt: str,
    out: TextIO,
    err: TextIO,
    applied: bool,
    exit_code: int = 0,
) -> None:
    """Each domain: what was done (a dry run: what is due, and why), what it waits for and when
    the next step is due; errors on `err`. Several results (an emergency's rounds) are printed
    in order. JSON says the `exit_code` rotate returns."""
    if fmt == "json":
        out.write(json.dumps(rotation_json(results, exit_code), indent=2) + "\n")
    idle = 0
    for result in results:
        for run in result.runs:
            if run.error:
                err.write(f"error: {run.domain}: {run.error}\n")
            if fmt == "json":
                continue
            if not (run.done or run.waiting or run.warnings or run.error):
                idle += 1
                continue
            for line, why in zip(run.done, run.why, strict=True):
                shown = f"due: {line}; why: {why}" if result.dry_run else line
                out.write(f"{run.domain}: {shown}\n")
            for line in run.waiting:
                out.write(f"{run.domain}: waiting: {line}\n")
            for line in run.warnings:
                err.write(f"warning: {run.domain}: {line}\n")
            if run.next_due:
                out.write(f"{run.domain}: next step due {_when(run.next_due)}\n")
        for line in result.errors:
            err.write(f"error: {line}\n")
        if fmt != "json":
            for path in result.mta_files:
                out.write(f"mta: wrote {path}\n")
    if fmt == "json":
        return
    last = results[-1]
    if idle:
        dues = [r.next_due for r in last.runs if r.next_due and not (r.done or r.waiting)]
        soonest = f"; next due {_when(min(dues))}" if dues else ""
        out.write(f"nothing due for {idle} domain(s){soonest}\n")
    if last.dry_run:
        _print_preview(last, out)
    elif not applied and any(r.dns_changed for res in results for r in res.runs):
        out.write(
            "DNS changes are in state/: run `mailzone apply` (or push state/ for CI to apply)\n"
        )


def _print_preview(result: RotateResult, out: TextIO) -> None:
    if result.mta_due:
        out.write("mta: due: write the signing configuration and run the reload commands\n")
    if result.apply_domains:
        out.write(f"--apply would publish the DNS changes of {', '.join(result.apply_domains)}\n")
    due = sum(1 for r in result.runs if r.done)
    out.write(
        f"dry run: nothing was written; {due} domain(s) have a step due (`mailzone rotate` "
        "without --dry-run takes it)\n"
        if result.due
        else "dry run: nothing was written; nothing is due\n"
    )


def print_held(plans: Sequence[ZonePlan], out: TextIO) -> None:
    """`rotate --apply`: per zone, the pending changes it left to `mailzone apply`."""
    for zp in plans:
        held = zp.report.held
        if not held or zp.error:
            continue
        shown = ", ".join(held[:HELD_SHOWN])
        more = f" and {len(held) - HELD_SHOWN} more" if len(held) > HELD_SHOWN else ""
        label = ", ".join(d.name for d in zp.task.domains) or zp.zone
        out.write(
            f"{label}: {len(held)} change(s) not made by rotation are pending ({shown}{more}): "
            "`mailzone apply` publishes them\n"
        )


def row_json(row: KeyRow) -> dict[str, Any]:
    """One selector for `keys list --format json`."""
    return {
        "domain": row.domain,
        "selector": row.selector,
        "algorithm": row.algorithm,
        "bits": row.bits,
        "phase": row.phase,
        "fingerprint": row.fingerprint,
        "created": row.created.isoformat() if row.created else None,
        "key_file": row.key_file,
        "key_problem": row.key_problem,
    }


def key_problems(rows: list[KeyRow]) -> list[str]:
    """One line per key file that cannot be used as it is: what is wrong and the fix."""
    return [f"{row.domain} {row.selector}: {row.key_problem}" for row in rows if row.key_problem]


def key_table(rows: list[KeyRow]) -> str:
    """Aligned columns: domain, selector, key, phase, created, fingerprint, key file here
    (`unusable` when it is a symbolic link or its owner, mode or group is wrong, or with
    --verify it is not the published key: `key_problems` says why)."""
    header = ("DOMAIN", "SELECTOR", "KEY", "PHASE", "CREATED", "FINGERPRINT", "KEY FILE")
    lines = [header]
    for row in rows:
        key_file = {True: "yes", False: "missing", None: "-"}[row.key_file]
        if row.phase in ("tombstone",) and row.key_file is False:
            key_file = "deleted"
        if row.key_problem:
            key_file = "unusable"
        lines.append(
            (
                row.domain,
                row.selector,
                f"{row.algorithm}-{row.bits}",
                row.phase,
                row.created.strftime("%Y-%m-%d") if row.created else "-",
                row.fingerprint[:23] + "…",
                key_file,
            )
        )
    if len(lines) == 1:
        return "no DKIM selectors"
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def health_json(problems: Sequence[RotationProblem], domains: int, now: datetime) -> dict[str, Any]:
    """`keys health --format json`: the domains that rotate, and every stalled or overdue key."""
    return {
        "schema_version": 1,
        "now": _iso(now),
        "domains": domains,
        "problems": [
            {
                "domain": p.domain,
                "selector": p.selector,
                "kind": p.kind,
                "created": _iso(p.created),
                "age_days": p.age.days,
                "limit": format_duration(p.limit),
                "visible_since": _iso(p.visible_since),
                "message": p.message,
            }
            for p in problems
        ],
        "exit_code": EXIT_CHECK_FAILED if problems else EXIT_OK,
    }
