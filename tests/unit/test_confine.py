"""A path is inside a folder exactly when it is once every symlink is resolved, whether the
folder is given absolute or as `.` (`--root .`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailzone.util.confine import is_inside


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "zones").mkdir()
    (tmp_path / "zones" / "a.yaml").write_text("x")
    (tmp_path / "zones" / "out.yaml").symlink_to("/etc/passwd")
    (tmp_path / "zones" / "in.yaml").symlink_to("a.yaml")
    (tmp_path / "state").symlink_to("/etc")
    (tmp_path / "zones" / "up").symlink_to("..")
    return tmp_path


CASES = {
    "zones/a.yaml": True,
    "zones/new.yaml": True,  # not there yet
    "zones/in.yaml": True,
    "zones/out.yaml": False,
    "state/x.yaml": False,
    "zones/up/zones/a.yaml": True,
    "zones/up/../x": False,
    "zones/../../x": False,
    ".": True,
}


@pytest.mark.parametrize("relative", list(CASES))
def test_absolute_root(repo: Path, relative: str) -> None:
    assert is_inside(repo / relative, repo) is CASES[relative]
    assert is_inside(repo / relative, repo) is _resolved_inside(repo / relative, repo)


@pytest.mark.parametrize("relative", list(CASES))
def test_root_given_as_dot(repo: Path, relative: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    root = Path(".")
    assert is_inside(root / relative, root) is CASES[relative]


def _resolved_inside(path: Path, folder: Path) -> bool:
    real, base = os.path.realpath(path), os.path.realpath(folder)
    return real == base or real.startswith(base + os.sep)
