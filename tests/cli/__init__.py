"""The `mailzone` command end to end, against files and the built-in `local` target.

The tests in this folder run the whole CLI, or another process of their own; none needs a DNS
server (those are in tests/integration) and none belongs in tests/unit, which must stay fast.

This module is how every test folder runs the CLI: `mailzone()` starts the real command in a
subprocess, `inproc()` runs it in this process to skip interpreter start-up; the rest set up a
temp repository for it and read what it printed."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Run:
    """What one `mailzone` process did."""

    code: int
    out: str
    err: str

    @property
    def returncode(self) -> int:
        """subprocess's name for `code`."""
        return self.code

    @property
    def stdout(self) -> str:
        """subprocess's name for `out`."""
        return self.out

    @property
    def stderr(self) -> str:
        """subprocess's name for `err`."""
        return self.err

    @property
    def errors(self) -> list[str]:
        """Every `error: ...` line (stderr, or a zone's error inside the plan), prefix removed."""
        lines = (self.out + self.err).splitlines()
        return [line.strip()[7:] for line in lines if line.strip().startswith("error: ")]


def mailzone(
    root: Path,
    *args: str,
    env: dict[str, str] | None = None,
    unset: tuple[str, ...] = (),
    debug: bool = False,
    stdin: str | None = None,
) -> Run:
    """Run `python -m mailzone --root ROOT ARGS` from inside ROOT; never a traceback, never a secret.

    Every value passed in `env` counts as a secret: it must not appear in any output. Variables
    named in `unset` are removed from the environment. `debug`: the run asks for `-v -v`, whose
    debug log may show a provider's traceback on stderr (never on stdout). `stdin`: text piped
    in (default: none); either way the process has no terminal."""
    environ = {k: v for k, v in os.environ.items() if k not in unset}
    environ = {**environ, **(env or {})}
    # tests run as root: the real default key directory (/var/lib/mailzone/keys) is never used;
    # tests/conftest.py sets a private one per test, and a module fixture's run gets one here
    if not environ.get("MAILZONE_KEY_DIR"):
        environ["MAILZONE_KEY_DIR"] = str(root.parent / f"{root.name}.default-keys")
        environ["XDG_DATA_HOME"] = str(root.parent / f"{root.name}.xdg-data")
    proc = subprocess.run(
        [sys.executable, "-m", "mailzone", "--root", str(root), *args],
        cwd=root,
        env=environ,
        stdin=subprocess.DEVNULL if stdin is None else None,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    run = Run(proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in (run.out if debug else run.out + run.err), run.err
    for secret in (env or {}).values():
        assert secret not in run.out + run.err
    return run


def refused(run: Run) -> str:
    """The one error of a run that exited 1."""
    assert run.code == 1, (run.out, run.err)
    assert len(run.errors) == 1, run.errors
    return run.errors[0]


def inproc(root: Path, *args: str) -> Run:
    """`mailzone --root ROOT ARGS` through the console entry point, in this process, from the
    repository as working directory (as the subprocess runs: paths show relative to it)."""
    from mailzone.cli import app as cli

    out, err = io.StringIO(), io.StringIO()
    argv, cwd = sys.argv, Path.cwd()
    sys.argv = ["mailzone", "--root", str(root), *args]
    os.chdir(root)
    code = 0
    own_keys = not os.environ.get("MAILZONE_KEY_DIR")  # a module fixture's run, as in mailzone()
    if own_keys:
        os.environ["MAILZONE_KEY_DIR"] = str(root.parent / f"{root.name}.default-keys")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            cli.main()
    except SystemExit as done:
        code = int(done.code or 0)
    finally:
        sys.argv = argv
        os.chdir(cwd)
        if own_keys:
            del os.environ["MAILZONE_KEY_DIR"]
    run = Run(code, out.getvalue(), err.getvalue())
    assert "Traceback" not in run.out + run.err, run.err
    assert "PRIVATE KEY" not in run.out + run.err
    return run


def files(root: Path) -> dict[str, bytes]:
    """Every file under the repository, by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def write_provider(root: Path, name: str, config: dict[str, Any]) -> Path:
    """providers/<name>.yaml from an octoDNS provider block."""
    path = root / "providers" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


def plan_json(root: Path, *args: str) -> list[dict[str, Any]]:
    """The zones of `plan --format json`."""
    result = mailzone(root, "plan", "--format", "json", *args)
    assert result.returncode in (0, 2), result.stderr
    zones: list[dict[str, Any]] = json.loads(result.stdout)["zones"]
    return zones


def changes(root: Path, *args: str) -> list[tuple[str, str, str]]:
    """(action, name, type) of every planned change, sorted."""
    return sorted(
        (c["action"], c["name"], c["type"]) for z in plan_json(root, *args) for c in z["changes"]
    )


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first line containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


SCHEMAS = Path(__file__).parents[2] / "mailzone" / "cli" / "render" / "schemas"


def json_result(run: Run, kind: str) -> dict[str, Any]:
    """A run's `--format json` output, valid by `mailzone/cli/render/schemas/<kind>.schema.json`
    and saying the exit code the run returned."""
    from jsonschema import Draft202012Validator

    schema = json.loads((SCHEMAS / f"{kind}.schema.json").read_text())
    data: dict[str, Any] = json.loads(run.out)
    Draft202012Validator(schema).validate(data)
    assert data["exit_code"] == run.code, (data["exit_code"], run.code, run.err)
    return data
