"""The lock file's waiting and timeout, and the names of temp files (one process: flock locks
an open file, so a second open of the lock file in this process is another holder)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from mailzone.errors import MailzoneError
from mailzone.util.files import temp_file
from mailzone.util.lock import exclusive


def test_a_second_holder_waits_says_so_once_then_fails_naming_the_first(tmp_path: Path) -> None:
    lock = tmp_path / "state" / ".mailzone.lock"
    said: list[str] = []
    with exclusive(lock, "mailzone run"):
        started = time.monotonic()
        with (
            pytest.raises(MailzoneError) as refused,
            exclusive(lock, "mailzone run", 0.5, said.append, "state/.mailzone.lock"),
        ):
            pass
        assert time.monotonic() - started >= 0.5
    assert said == [str(os.getpid())]
    assert str(refused.value) == (
        f"another mailzone run (pid {os.getpid()}) holds state/.mailzone.lock; waited 0.5 s "
        "(--lock-timeout 0.5); try again when it ends"
    )
    assert not lock.exists()  # released: no file left behind
    with exclusive(lock, "mailzone run", 0):  # and free again
        assert lock.read_text() == f"{os.getpid()}\n"


def test_temp_files_carry_the_writers_pid(tmp_path: Path) -> None:
    fd, name = temp_file(tmp_path / "example.org.yaml")
    os.close(fd)
    assert re.fullmatch(
        rf"\.example\.org\.yaml\.{os.getpid()}\.[a-z0-9_]{{8}}\.tmp", Path(name).name
    )
    assert Path(name).parent == tmp_path
    assert os.stat(name).st_mode & 0o777 == 0o600
