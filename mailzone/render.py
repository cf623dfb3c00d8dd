"""Every output format in one place: rich tables on a terminal, JSON, Markdown."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mailzone.octo.sync import ZoneOutcome, ZonePlan

_STYLE = {
    "create": "green",
    "update": "yellow",
    "delete": "red",
    "adopt": "magenta",
    "adopt?": "magenta",
}


def _texts(record: Any) -> list[str]:
    """Values as a person reads them: TXT unquoted and unescaped, others in zone-file form."""
    if record is None:
        return []
    if record._type in ("TXT", "SPF"):
        return [v.replace("\\;", ";") for v in record.values]
    return list(record.to_rrset().rdatas)


def plan_rows(zp: ZonePlan) -> list[dict[str, Any]]:
    """One dict per change: action, name, type, ttl, old, new."""
    adopted = {(a.name, a.type) for a in zp.report.adoptions if a.applied}
    rows = []
    for change in zp.changes:
        record = change.record
        kind = type(change).__name__.lower()
        if kind == "update" and (record.name, record._type) in adopted:
            kind = "adopt"
        rows.append(
            {
                "action": kind,
                "name": record.decoded_fqdn,
                "type": record._type,
                "ttl": record.ttl,
                "old": _texts(change.existing),
                "new": _texts(change.new),
            }
        )
    for adoption in zp.report.pending_adoptions:
        fqdn = f"{adoption.name}.{zp.zone}." if adoption.name else f"{zp.zone}."
        rows.append(
            {
                "action": "adopt?",
                "name": fqdn,
                "type": adoption.type,
                "ttl": None,
                "old": [v.replace("\\;", ";") for v in adoption.live],
                "new": [v.replace("\\;", ";") for v in adoption.wanted],
            }
        )
    return rows


def plan_data(plans: Sequence[ZonePlan]) -> list[dict[str, Any]]:
    """The plan as plain data (for JSON)."""
    return [
        {
            "zone": zp.zone,
            "provider": zp.task.provider,
            "domains": [d.name for d in zp.task.domains],
            "changes": plan_rows(zp),
            "needs_adopt": bool(zp.report.pending_adoptions),
            "guards": [str(g) for g in zp.guard],
            "warnings": zp.report.warnings + orphan_warnings(zp),
            "error": zp.error,
        }
        for zp in plans
    ]


def orphan_warnings(zp: ZonePlan) -> list[str]:
    """Registry entries whose spec is gone."""
    return [
        f"{name}: mailzone created records in {zp.zone} but zones/{name}.yaml is gone; they stay in DNS "
        f"(`mailzone forget {name} --delete-records` removes them)"
        for name in zp.orphans
    ]


def print_plan_json(plans: Sequence[ZonePlan], console: Console) -> None:
    """JSON on stdout."""
    console.print_json(json.dumps(plan_data(plans)))


def print_plan_markdown(plans: Sequence[ZonePlan], console: Console) -> None:
    """Markdown, e.g. for a pull-request comment."""
    out = []
    for zone in plan_data(plans):
        out.append(f"### {zone['zone']} ({zone['provider']})\n")
        if zone["error"]:
            out.append(f"**error:** {zone['error']}\n")
            continue
        if not zone["changes"]:
            out.append("No changes.\n")
        else:
            out.append("| action | name | type | old | new |\n|---|---|---|---|---|")
            for row in zone["changes"]:
                old = "<br>".join(f"`{v}`" for v in row["old"])
                new = "<br>".join(f"`{v}`" for v in row["new"])
                out.append(f"| {row['action']} | {row['name']} | {row['type']} | {old} | {new} |")
            out.append("")
        out += [f"- guard: {g}" for g in zone["guards"]]
        out += [f"- warning: {w}" for w in zone["warnings"]]
        if zone["needs_adopt"]:
            out.append(
                "- `adopt?` rows replace records mailzone did not create: apply with `--adopt`"
            )
    console.print("\n".join(out), markup=False, highlight=False, soft_wrap=True)


def _short(value: str, limit: int = 100) -> str:
    """Long values (DKIM keys) cut in the middle for the table; JSON and Markdown keep them whole."""
    if len(value) <= limit:
        return value
    return f"{value[: limit - 24]}…{value[-16:]} ({len(value)} chars)"


def print_errors(plans: Sequence[ZonePlan], errors: Console) -> None:
    """`error: ...` on stderr for each zone that could not be planned."""
    for zp in plans:
        if zp.error:
            errors.print(f"error: {zp.error}", markup=False, highlight=False)


def print_plan_text(plans: Sequence[ZonePlan], console: Console) -> None:
    """Readable tables, coloured on a terminal (errors go to stderr: print_errors)."""
    for zp in plans:
        domains = escape(", ".join(d.name for d in zp.task.domains) or "-")
        console.print(
            f"[bold]{escape(zp.zone)}[/bold]  provider {escape(zp.task.provider)}  domains {domains}",
            highlight=False,
        )
        if zp.error:
            console.print("  [red]not planned[/red] (the error is on stderr)", highlight=False)
            continue
        rows = plan_rows(zp)
        if not rows:
            console.print("  no changes")
        else:
            table = Table(
                show_header=True, header_style="bold", box=None, pad_edge=False, padding=(0, 1)
            )
            for column in ("action", "name", "type", "old", "new"):
                table.add_column(column, overflow="fold")
            for row in rows:
                style = _STYLE.get(row["action"], "")
                table.add_row(
                    f"[{style}]{row['action']}[/{style}]" if style else escape(row["action"]),
                    escape(row["name"]),
                    row["type"],
                    escape("\n".join(map(_short, row["old"]))),
                    escape("\n".join(map(_short, row["new"]))),
                )
            console.print(table)
        if zp.report.pending_adoptions:
            console.print(
                "  [magenta]adopt?[/magenta] rows replace live records mailzone did not create: "
                "apply --adopt to take them over"
            )
        for hit in zp.guard:
            console.print(
                f"  [red]guard:[/red] {escape(str(hit))} (apply needs --force)", highlight=False
            )
        for line in zp.report.warnings + orphan_warnings(zp):
            console.print(f"  [yellow]warning:[/yellow] {escape(line)}", highlight=False)


def print_apply_json(
    plans: Sequence[ZonePlan], outcomes: Sequence[ZoneOutcome], console: Console
) -> None:
    """One JSON document: the plan of each zone and what apply did with it."""
    data = {
        "zones": plan_data(plans),
        "outcomes": [
            {
                "zone": o.zone,
                "domains": o.domains,
                "status": o.status,
                "changes": o.changes,
                "message": o.message,
                "backup": str(o.backup) if o.backup else None,
            }
            for o in outcomes
        ],
    }
    console.print_json(json.dumps(data))


def print_outcomes(outcomes: Sequence[ZoneOutcome], console: Console, errors: Console) -> None:
    """The apply summary: one line per zone on stdout; each failure also as `error:` on stderr."""
    for outcome in outcomes:
        label = escape(", ".join(outcome.domains) or outcome.zone)
        if outcome.status == "applied":
            console.print(
                f"[green]applied[/green]   {label}: {outcome.changes} change(s)", highlight=False
            )
        elif outcome.status == "unchanged":
            console.print(f"unchanged {label}", highlight=False)
        else:
            console.print(f"[red]failed[/red]    {label}", highlight=False)
    print_outcome_errors(outcomes, errors)


def print_outcome_errors(outcomes: Sequence[ZoneOutcome], errors: Console) -> None:
    """`error: <zone>: ...` on stderr for each zone apply refused or failed (plan errors were shown)."""
    for outcome in outcomes:
        if outcome.status == "error" and not outcome.reported:
            errors.print(f"error: {outcome.zone}: {outcome.message}", markup=False, highlight=False)
