"""The README's own commands, as a new user types them, in a copy of a fresh checkout."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from tests.cli import Run, files, mailzone, refused

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def checkout(tmp_path: Path) -> Path:
    """What a fresh checkout holds for mailzone: zones/ (if any), providers/, examples/."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for folder in ("zones", "providers", "examples"):
        if (ROOT / folder).is_dir():
            shutil.copytree(ROOT / folder, repo / folder)
    return repo


def readme_commands(marker: str) -> list[list[str]]:
    """The `mailzone` commands of the README's first shell block that contains `marker`."""
    block = next(b for b in re.findall(r"```sh\n(.*?)```", README, re.S) if marker in b)
    commands = []
    for line in block.splitlines():
        for part in line.split("#", 1)[0].split("&&"):
            words = shlex.split(part)
            if words and words[0].endswith("mailzone"):
                commands.append(words[1:])
    return commands


def run(repo: Path, args: list[str]) -> Run:
    return mailzone(repo, *args, env={"XDG_DATA_HOME": str(repo.parent / "data")})


def test_readme_quickstart_applies_only_the_domain_it_inits(tmp_path: Path) -> None:
    # given a fresh checkout
    repo = checkout(tmp_path)
    # when the README's first command runs
    for args in readme_commands("mailzone apply --yes"):
        result = run(repo, args)
        assert result.code == 0, result.err
    # then it wrote the zone it asked for, and nothing the user did not ask for
    assert sorted(p.name for p in (repo / "build" / "zones").iterdir()) == ["example.com.zone"]


def test_readme_workflow_init_works_in_a_fresh_checkout(tmp_path: Path) -> None:
    # given a fresh checkout, when the typical workflow's init runs
    repo = checkout(tmp_path)
    (init,) = [a for a in readme_commands("mailzone ci init") if a[0] == "init"]
    result = run(repo, init)
    # then it writes the spec
    assert result.code == 0, result.err
    assert (repo / "zones" / "example.org.yaml").exists()


def test_readme_quickstart_runs_again_and_changes_nothing(tmp_path: Path) -> None:
    # given the README's first command has run once
    repo = checkout(tmp_path)
    for args in readme_commands("mailzone apply --yes"):
        assert run(repo, args).code == 0
    before = files(repo)
    # when it runs again, then every command succeeds
    outputs = []
    for args in readme_commands("mailzone apply --yes"):
        result = run(repo, args)
        assert result.code == 0, result.err
        outputs.append(result.out)
    # and init said why it wrote nothing, and nothing changed
    assert "zones/example.com.yaml already holds what these options write" in outputs[0]
    assert files(repo) == before


def test_init_with_other_options_still_refuses_an_existing_spec(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    init = ["init", "example.com", "--mail-host", "mail.example.com", "--ipv4", "203.0.113.25"]
    assert run(repo, init).code == 0
    before = files(repo)

    result = run(repo, [*init[:-1], "203.0.113.26"])

    assert refused(result).endswith(
        "differs from what these options write; edit it, or replace it with init --force"
    )
    assert files(repo) == before


def test_init_next_step_works_as_typed(tmp_path: Path) -> None:
    # given mailzone run by its path in a virtualenv that is not on PATH (the README's way)
    repo = checkout(tmp_path)
    script = Path(sys.executable).parent / "mailzone"
    path = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != script.parent
    )
    env = {**os.environ, "PATH": path, "XDG_DATA_HOME": str(tmp_path / "data")}
    init = [str(script), "init", "example.com", "--mail-host", "mail.example.com"]
    done = subprocess.run(
        [*init, "--ipv4", "203.0.113.25"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    # when the printed next step is pasted
    (hint,) = re.findall(r"Next: `([^`]+)`", done.stdout)
    assert hint.startswith(str(script))
    pasted = subprocess.run(shlex.split(hint), cwd=repo, env=env, capture_output=True, text=True)
    # then it runs
    assert pasted.returncode == 0, pasted.stderr
    assert "example.com" in pasted.stdout


def test_init_makes_git_ignore_build_output_and_the_lock_once(tmp_path: Path) -> None:
    # given a repository whose .gitignore ignores build/ already, without a final newline
    repo = checkout(tmp_path)
    (repo / ".gitignore").write_text("node_modules/\n/build")
    init = ["init", "example.com", "--mail-host", "mail.example.com", "--ipv4", "203.0.113.25"]
    # when init runs, twice
    first, second = run(repo, init), run(repo, init)
    # then the lock file is added once, and build/ is not added again
    assert "added state/.mailzone.lock to .gitignore" in first.out
    assert ".gitignore" not in second.out
    assert (repo / ".gitignore").read_text() == "node_modules/\n/build\nstate/.mailzone.lock\n"


def test_init_writes_a_gitignore_where_there_is_none(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    result = run(
        repo, ["init", "example.com", "--mail-host", "mail.example.com", "--ipv4", "192.0.2.1"]
    )
    assert "added build/, state/.mailzone.lock to .gitignore" in result.out
    assert (repo / ".gitignore").read_text() == "build/\nstate/.mailzone.lock\n"


def test_a_state_gitignore_of_the_old_rotate_lock_gets_the_new_lock_too(tmp_path: Path) -> None:
    # given a repository whose state/.gitignore an older mailzone wrote for rotate's lock
    repo = checkout(tmp_path)
    init = ["init", "example.com", "--mail-host", "mail.example.com", "--ipv4", "192.0.2.1"]
    assert run(repo, init).code == 0
    (repo / "state" / ".gitignore").write_text("# written by mailzone\n.rotate.lock\n")
    # when a run takes the lock, twice
    for _ in range(2):
        assert run(repo, ["apply", "--yes"]).code == 0
    # then both names are ignored, the new one added once, and no lock file is left
    ignored = (repo / "state" / ".gitignore").read_text()
    assert ignored == "# written by mailzone\n.rotate.lock\n.mailzone.lock\n"
    assert not (repo / "state" / ".mailzone.lock").exists()


def test_this_repository_ignores_what_init_makes_a_repository_ignore() -> None:
    from mailzone.repo.scaffold import IGNORED

    ignored = {line.strip().strip("/") for line in (ROOT / ".gitignore").read_text().splitlines()}
    assert {p.strip("/") for p in IGNORED} <= ignored
