"""Output of the DKIM commands: what `rotate` did and waits for, and the `keys list` table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from mailzone.dkim.rotate import DomainRun, RotateResult
from mailzone.dkim.selectors import KeyRow

if TYPE_CHECKING:
    from mailzone.octo.sync import ZonePlan

HELD_SHOWN = 4


def _when(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else None


def run_json(run: DomainRun) -> dict[str, Any]:
    """One domain's run for --format json."""
    return {
        "domain": run.domain,
        "done": run.done,
        "waiting": run.waiting,
        "warnings": run.warnings,
        "next_due": run.next_due.isoformat() if run.next_due else None,
        "error": run.error,
    }


def print_rotation(
    results: list[RotateResult], fmt: str, out: TextIO, err: TextIO, applied: bool
) -> None:
    """Each domain: what was done, what it waits for and when the next step is due; errors on
    `err`. Several results (an emergency's rounds) are printed in order."""
    if fmt == "json":
        data = [
            {
                "domains": [run_json(r) for r in result.runs],
                "mta_files": [str(p) for p in result.mta_files],
                "errors": result.errors,
            }
            for result in results
        ]
        out.write(json.dumps(data if len(data) > 1 else data[0], indent=2) + "\n")
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
            for line in run.done:
                out.write(f"{run.domain}: {line}\n")
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
    if not applied and any(r.dns_changed for res in results for r in res.runs):
        out.write(
            "DNS changes are in state/: run `mailzone apply` (or push state/ for CI to apply)\n"
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
    (`unusable` when its mode or group is wrong: `key_problems` says why)."""
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
