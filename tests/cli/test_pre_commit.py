"""`.pre-commit-hooks.yaml` through the real pre-commit: `pre-commit try-repo` installs mailzone
from this clone into its own environment (from the package index, as the test command's install
does; about 15 s per run) and runs `mailzone-validate` in a repository holding specs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.cli import line_of
from tests.helpers import basic_spec, write_spec

PROJECT = Path(__file__).resolve().parents[2]
PRE_COMMIT = (sys.executable, "-m", "pre_commit")


def try_repo(where: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PRE_COMMIT, "try-repo", str(PROJECT), "mailzone-validate", "--all-files"],
        cwd=where,
        env={**os.environ, "PRE_COMMIT_HOME": str(cache), "PRE_COMMIT_COLOR": "never"},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_pre_commit_hook_passes_a_valid_repository_and_fails_an_invalid_one(
    tmp_path: Path,
) -> None:
    # given a git repository holding a valid spec
    user = tmp_path / "specs"
    spec = write_spec(user, "example.org", basic_spec())
    subprocess.run(["git", "init", "--quiet", str(user)], check=True)
    subprocess.run(["git", "-C", str(user), "add", "--all"], check=True)

    # when pre-commit runs mailzone-validate from this clone, then it passes
    passed = try_repo(user, tmp_path / "pre-commit")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "mailzone validate" in passed.stdout and "Passed" in passed.stdout

    # and once the spec has a bad DMARC policy, it fails with mailzone's error line
    spec.write_text(spec.read_text().replace("policy: none", "policy: nonee"))
    failed = try_repo(user, tmp_path / "pre-commit")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Failed" in failed.stdout
    line = line_of(spec.read_text(), "policy:")
    assert (
        f"error: zones/example.org.yaml:{line}: dmarc.policy: 'nonee' is not one of none, "
        "quarantine, reject (did you mean 'none'?)"
    ) in failed.stdout
