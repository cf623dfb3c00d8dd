"""`mailzone hook install` on the files it writes: executable hooks naming this mailzone, a hook
someone else wrote kept unless --force, a mistaken --git-dir or --branch refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import mailzone, refused

MARKER = "# written by `mailzone hook install`"


def bare(tmp: Path) -> Path:
    origin = tmp / "origin.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(origin)], check=True)
    return origin


def test_install_writes_executable_hooks_that_call_this_mailzone(tmp_path: Path) -> None:
    origin = bare(tmp_path)

    run = mailzone(tmp_path, "hook", "install", "--git-dir", str(origin), "--branch", "prod")

    assert run.code == 0, run.err
    for name in ("pre-receive", "post-receive"):
        hook = origin / "hooks" / name
        assert f"installed {hook}" in run.out
        assert os.access(hook, os.X_OK)
        text = hook.read_text()
        assert MARKER in text
        assert f"{sys.executable} -m mailzone" in text  # the tests run `python -m mailzone`
        assert "BRANCH=refs/heads/prod" in text
    post = (origin / "hooks" / "post-receive").read_text()
    assert f"WORK_TREE={origin}/mailzone-checkout" in post
    assert (origin / "mailzone-checkout").is_dir()
    assert subprocess.run(["sh", "-n", str(origin / "hooks" / "post-receive")]).returncode == 0


def test_install_keeps_a_hook_someone_else_wrote_unless_forced(tmp_path: Path) -> None:
    # given a pre-receive hook mailzone did not write
    origin = bare(tmp_path)
    theirs = origin / "hooks" / "pre-receive"
    theirs.write_text("#!/bin/sh\nexit 0\n")

    # when hook install runs without --force, then it refuses and writes nothing
    error = refused(mailzone(tmp_path, "hook", "install", "--git-dir", str(origin)))
    assert error == (
        f"{theirs}: a hook mailzone did not write is already there "
        "(merge it by hand, or --force to replace it)"
    )
    assert theirs.read_text() == "#!/bin/sh\nexit 0\n"
    assert not (origin / "hooks" / "post-receive").exists()

    # and with --force it replaces it, and its own hooks again without --force
    assert mailzone(tmp_path, "hook", "install", "--git-dir", str(origin), "--force").code == 0
    assert MARKER in theirs.read_text()
    assert mailzone(tmp_path, "hook", "install", "--git-dir", str(origin)).code == 0


def test_install_refuses_a_directory_that_is_no_repository_and_a_bad_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    plain = tmp_path / "plain"
    plain.mkdir()
    assert refused(mailzone(tmp_path, "hook", "install", "--git-dir", str(plain))) == (
        f"--git-dir: {plain} is not a git repository"
    )
    origin = bare(tmp_path)
    args = ("hook", "install", "--git-dir", str(origin), "--branch", "a..b")
    assert refused(mailzone(tmp_path, *args)) == "--branch: 'a..b' is not a valid branch name"
    assert not (origin / "hooks" / "pre-receive").exists()
