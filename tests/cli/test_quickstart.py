"""The README's own commands, as a new user types them, in a copy of a fresh checkout."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

from tests.cli import Run, mailzone

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
    (init,) = [a for a in readme_commands("git add zones/") if a[0] == "init"]
    result = run(repo, init)
    # then it writes the spec
    assert result.code == 0, result.err
    assert (repo / "zones" / "example.org.yaml").exists()
