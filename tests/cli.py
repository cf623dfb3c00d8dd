"""Run the real `mailzone` CLI in a subprocess, and set up a temp repository for it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml


def mailzone(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m mailzone --root ROOT ARGS...`; never a traceback allowed."""
    result = subprocess.run(
        [sys.executable, "-m", "mailzone", "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def write_provider(root: Path, name: str, config: dict[str, Any]) -> Path:
    """providers/<name>.yaml from an octoDNS provider block."""
    path = root / "providers" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


def plan_json(root: Path, *args: str) -> list[dict[str, Any]]:
    """`plan --format json` as data."""
    result = mailzone(root, "plan", "--format", "json", *args)
    assert result.returncode in (0, 2), result.stderr
    return json.loads(result.stdout)


def changes(root: Path, *args: str) -> list[tuple[str, str, str]]:
    """(action, name, type) of every planned change, sorted."""
    return sorted(
        (c["action"], c["name"], c["type"]) for z in plan_json(root, *args) for c in z["changes"]
    )
