"""Every output format in one place: plain text (coloured on a terminal), JSON, Markdown.

Plain writes, not rich tables: a plan of a thousand zones must print in milliseconds."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from mailzone.octo.registry import MAGIC, REGISTRY_NAME, decode
from mailzone.octo.sync import ZoneOutcome, ZonePlan
from mailzone.repo.results import SCHEMA_VERSIONS

_ANSI = {"green": "32", "yellow": "33", "red": "31", "magenta": "35", "bold": "1"}
_STYLE = {
    "create": "green",
    "update": "yellow",
    "delete": "red",
    "adopt": "magenta",
    "adopt?": "magenta",
}
_SIGN = {
    "create": ("", "+"),
    "update": ("-", "+"),
    "delete": ("-", ""),
    "adopt": ("-", "+"),
    "adopt?": ("-", "+"),
}
COLLAPSE = 3  # more unchanged zones than this are listed on one line


@dataclass
class Output:
    """Where results go: `out` (stdout) and `err` (stderr, every `error:` line); colour on a tty."""

    out: TextIO
    err: TextIO
    color: bool = False

    def paint(self, text: str, style: str) -> str:
        """`text` in a colour when writing to a terminal."""
        return f"\x1b[{_ANSI[style]}m{text}\x1b[0m" if self.color else text

    def error(self, message: str) -> None:
        """One `error:` line on stderr."""
        self.err.write(f"error: {message}\n")


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


def print_errors(plans: Sequence[ZonePlan], output: Output) -> None:
    """`error: ...` on stderr for each zone that could not be planned."""
    for zp in plans:
        if zp.error:
            output.error(zp.error)


def print_plan_json(plans: Sequence[ZonePlan], output: Output, exit_code: int) -> None:
    """The plan as one JSON document (docs/json.md), with the exit code plan returns."""
    data = {"schema_version": SCHEMA_VERSIONS["plan"], "exit_code": exit_code}
    output.out.write(json.dumps(data | {"zones": plan_data(plans)}, indent=2) + "\n")


def print_plan_markdown(plans: Sequence[ZonePlan], output: Output) -> None:
    """Markdown, e.g. for a pull-request comment."""
    output.out.write(plan_markdown(plan_data(plans)))


def plan_markdown(zones: Sequence[dict[str, Any]]) -> str:
    """The plan's zones (as `plan_data` gives them) as Markdown."""
    out = []
    for zone in zones:
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
    return "\n".join(out) + "\n"


def _short(value: str, limit: int = 100) -> str:
    """Long values (DKIM keys) cut in the middle for reading; JSON and Markdown keep them whole."""
    if len(value) <= limit:
        return value
    return f"{value[: limit - 24]}…{value[-16:]} ({len(value)} chars)"


def _registry_diff(zp: ZonePlan, row: dict[str, Any]) -> list[tuple[str, str]] | None:
    """For the `_mailzone` registry: per domain, the entries removed (`-`) and added (`+`), whole,
    instead of two long values cut in the middle; None for any other record set (or a registry
    value mailzone did not write)."""
    if row["type"] != "TXT" or row["name"] != f"{REGISTRY_NAME}.{zp.zone.rstrip('.')}.":
        return None
    if not all(v.startswith(MAGIC + " ") for v in row["old"] + row["new"]):
        return None
    old, new = decode(row["old"]), decode(row["new"])
    out = []
    for domain in sorted(old.keys() | new.keys()):
        gone = old.get(domain, frozenset()) - new.get(domain, frozenset())
        added = new.get(domain, frozenset()) - old.get(domain, frozenset())
        out += [("-", f"{domain}: {' '.join(sorted(gone))}")] if gone else []
        out += [("+", f"{domain}: {' '.join(sorted(added))}")] if added else []
    return out


def _unchanged(zp: ZonePlan) -> bool:
    return not (zp.error or zp.pending or zp.guard or zp.report.warnings or zp.orphans)


def print_plan_text(plans: Sequence[ZonePlan], output: Output) -> None:
    """Each zone's changes as a diff; many unchanged zones fold into one line."""
    quiet = [zp for zp in plans if _unchanged(zp)]
    fold = len(quiet) > COLLAPSE
    lines: list[str] = []
    for zp in plans:
        if fold and _unchanged(zp):
            continue
        domains = ", ".join(d.name for d in zp.task.domains) or "-"
        lines.append(
            f"{output.paint(zp.zone, 'bold')}  provider {zp.task.provider}  domains {domains}"
        )
        if zp.error:
            lines.append(f"  {output.paint('not planned', 'red')} (the error is on stderr)")
            continue
        rows = plan_rows(zp)
        if not rows:
            lines.append("  no changes")
        for row in rows:
            action = row["action"]
            lines.append(
                f"  {output.paint(f'{action:<7}', _STYLE[action])} {row['type']:<5} {row['name']}"
            )
            minus, plus = _SIGN[action]
            registry = _registry_diff(zp, row)
            if registry is not None:
                lines += [f"{'':16}{sign} {text}" for sign, text in registry]
                continue
            lines += [f"{'':16}{minus} {_short(v)}" for v in row["old"] if minus]
            lines += [f"{'':16}{plus} {_short(v)}" for v in row["new"] if plus]
        if zp.report.pending_adoptions:
            lines.append(
                f"  {output.paint('adopt?', 'magenta')} replaces live records mailzone did not create: "
                "apply --adopt to take them over"
            )
        lines += [
            f"  {output.paint('guard:', 'red')} {hit} ({zp.command} needs --force)"
            for hit in zp.guard
        ]
        lines += [
            f"  {output.paint('warning:', 'yellow')} {w}"
            for w in zp.report.warnings + orphan_warnings(zp)
        ]
    if fold:
        names = ", ".join(zp.zone for zp in quiet[:5]) + (", …" if len(quiet) > 5 else "")
        lines.append(f"{len(quiet)} zones: no changes ({names})")
    output.out.write("".join(line + "\n" for line in lines))


def print_apply_json(
    plans: Sequence[ZonePlan], outcomes: Sequence[ZoneOutcome], output: Output, exit_code: int
) -> None:
    """One JSON document (docs/json.md): the plan of each zone, what apply did with it, and the
    exit code apply returns."""
    data = {
        "schema_version": SCHEMA_VERSIONS["apply"],
        "exit_code": exit_code,
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
    output.out.write(json.dumps(data, indent=2) + "\n")
    print_outcome_errors(outcomes, output)


def print_outcomes(outcomes: Sequence[ZoneOutcome], output: Output) -> None:
    """The apply summary: one line per zone (many unchanged fold into one); failures also on stderr."""
    unchanged = [o for o in outcomes if o.status == "unchanged"]
    fold = len(unchanged) > COLLAPSE
    lines = []
    for outcome in outcomes:
        label = ", ".join(outcome.domains) or outcome.zone
        if outcome.status == "applied":
            lines.append(
                f"{output.paint('applied', 'green')}   {label}: {outcome.changes} change(s)"
            )
        elif outcome.status == "unchanged":
            if not fold:
                lines.append(f"unchanged {label}")
        else:
            lines.append(f"{output.paint('failed', 'red')}    {label}")
    if fold:
        lines.append(f"unchanged {len(unchanged)} zones")
    output.out.write("".join(line + "\n" for line in lines))
    print_outcome_errors(outcomes, output)


def print_outcome_errors(outcomes: Sequence[ZoneOutcome], output: Output) -> None:
    """`error: <zone>: ...` on stderr for each zone apply refused or failed (plan errors were shown)."""
    for outcome in outcomes:
        if outcome.status == "error" and not outcome.reported:
            output.error(outcome.error_line)
