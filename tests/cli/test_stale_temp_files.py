"""A run killed mid-write (SIGKILL) leaves its temp file, in the key directory a whole private
key: the next run that takes the repository's lock removes the ones no live process writes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.cli import mailzone
from tests.helpers import basic_spec, write_spec

DOMAIN = "example.org"


def dead_pid() -> int:
    """The pid of a process that has ended."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def plant(
    folder: Path, name: str, pid: int | None, age: float = 0, random: str = "k3x_9a0q"
) -> Path:
    """A temp file as mailzone names them (`.<name>.<pid>.<random>.tmp`; older versions: no pid)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (f".{name}.{pid}.{random}.tmp" if pid else f".{name}.{random}.tmp")
    path.write_text("half of a file a killed run was writing\n")
    if age:
        os.utime(path, (time.time() - age, time.time() - age))
    return path


def repository(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A repository with one domain on the local target, its host config and key directory."""
    root, keys = tmp_path / "repo", tmp_path / "keys"
    write_spec(root, DOMAIN, basic_spec(DOMAIN) + "dkim:\n  algorithms: [ed25519]\n")
    host = tmp_path / "host.yaml"
    host.write_text(yaml.safe_dump({"key_dir": str(keys)}))
    return root, host, keys


def test_rotate_removes_the_temp_files_of_dead_runs_and_keeps_those_of_live_ones(
    tmp_path: Path,
) -> None:
    # given temp files of a killed run and of a live one, in the key directory and in state/
    root, host, keys = repository(tmp_path)
    dead, live = dead_pid(), os.getpid()
    gone = [
        plant(keys, f"{DOMAIN}.s1.pem", dead),
        plant(root / "state", f"{DOMAIN}.yaml", dead),
        plant(root / "state", f"{DOMAIN}.yaml", None, age=2 * 3600),  # an older version's
    ]
    target = tmp_path / "precious"
    target.write_text("not mailzone's\n")
    link = keys / f".{DOMAIN}.s3.pem.{dead}.abcdefgh.tmp"
    link.symlink_to(target)
    kept = [
        plant(keys, f"{DOMAIN}.s2.pem", live),
        plant(root / "state", f"{DOMAIN}.yaml", live),
        plant(root / "state", f"{DOMAIN}.yaml", None, 60, "r2v8bz01"),  # may still be written
    ]
    other = root / "state" / ".notes.tmp"  # not a name mailzone makes
    other.write_text("mine\n")
    os.utime(other, (time.time() - 2 * 3600, time.time() - 2 * 3600))

    # when rotate runs
    run = mailzone(root, "rotate", "--host-config", str(host))

    # then the dead runs' files are gone, each said in one line without its content
    assert run.code == 0, run.out + run.err
    said = [line for line in run.err.splitlines() if line.startswith("removed stale temp file ")]
    assert sorted(Path(line.split()[-1]).name for line in said) == sorted(p.name for p in gone)
    assert not any(path.exists() for path in gone)
    assert "PRIVATE" not in run.out + run.err
    # and the live run's files, the symbolic link and its target, and other files stay
    assert all(path.exists() for path in kept) and other.exists()
    assert link.is_symlink() and target.read_text() == "not mailzone's\n"


def test_apply_cleans_state_and_backups_but_leaves_the_key_directory_alone(
    tmp_path: Path,
) -> None:
    root, _, keys = repository(tmp_path)
    dead = dead_pid()
    backup = plant(root / "build" / "backups", f"{DOMAIN}.20270101T000000Z.zone", dead)
    state = plant(root / "state", f"{DOMAIN}.yaml", dead)
    key = plant(keys, f"{DOMAIN}.s1.pem", dead)

    run = mailzone(root, "apply", "--yes")

    assert run.code == 0, run.out + run.err
    assert not backup.exists() and not state.exists()
    assert key.exists()  # apply does not use the key directory


def test_read_only_commands_take_no_lock_and_remove_nothing(tmp_path: Path) -> None:
    root, host, _ = repository(tmp_path)
    state = plant(root / "state", f"{DOMAIN}.yaml", dead_pid())

    for command in (["plan"], ["validate"], ["rotate", "--dry-run", "--host-config", str(host)]):
        assert mailzone(root, *command).code in (0, 2)

    assert state.exists()
    assert not (root / "state" / ".mailzone.lock").exists()
