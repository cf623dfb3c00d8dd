"""`mailzone ci merge`: a merged shard result as JSON, or as a summary in text or Markdown."""

from __future__ import annotations

from typing import Any, TextIO

from mailzone.cli.render.plan import plan_markdown
from mailzone.util.jsontext import dumps_indented


def summary_lines(kind: str, data: dict[str, Any]) -> list[str]:
    """What a person reads first: one line per zone or domain that needs a look, then a total
    with the exit code."""
    lines: list[str] = []
    if kind in ("plan", "apply"):
        zones = data["zones"]
        for zone in zones:
            if zone["error"]:
                lines.append(f"{zone['zone']}: error: {zone['error']}")
            elif zone["changes"]:
                lines.append(f"{zone['zone']}: {len(zone['changes'])} change(s) planned")
        if kind == "apply":
            lines += [
                f"{o['zone']}: {o['status']}: {o['message']}"
                for o in data["outcomes"]
                if o["status"] == "error"
            ]
        changed = sum(1 for z in zones if z["changes"])
        total = f"{kind}: {len(zones)} zone(s), {changed} with changes"
    elif kind == "check":
        domains = data["domains"]
        for domain in domains:
            counts, unchecked = domain["counts"], domain["unchecked"]
            if counts["fail"] or counts["warn"] or unchecked or domain["error"]:
                shown = ", ".join(f"{counts[s]} {s}" for s in ("pass", "warn", "fail", "unknown"))
                missing = f"; not checked: {', '.join(unchecked)}" if unchecked else ""
                lines.append(f"{domain['domain']}: {shown}{missing}")
        failed = sum(1 for d in domains if d["counts"]["fail"])
        total = f"check: {len(domains)} domain(s), {failed} failed"
    else:
        domains = data["domains"]
        for domain in domains:
            lines += [f"{domain['domain']}: {step}" for step in domain["done"]]
            if domain["error"]:
                lines.append(f"{domain['domain']}: error: {domain['error']}")
        lines += [f"error: {e}" for e in data["errors"]]
        total = f"rotate: {len(domains)} domain(s), {sum(1 for d in domains if d['done'])} acted"
    return [*lines, f"{total}; exit code {data['exit_code']}"]


def print_merged(kind: str, data: dict[str, Any], fmt: str, out: TextIO) -> None:
    """The merged result in `fmt`: json (the same schema as one run's), text, or markdown (a
    plan as `plan --format markdown` prints it, the others as a list)."""
    if fmt == "json":
        out.write(dumps_indented(data) + "\n")
        return
    lines = summary_lines(kind, data)
    if fmt == "text":
        out.write("".join(line + "\n" for line in lines))
    elif kind == "plan":
        out.write(plan_markdown(data["zones"]) + f"\n**{lines[-1]}**\n")
    else:
        out.write("".join(f"- {line}\n" for line in lines[:-1]) + f"\n**{lines[-1]}**\n")
