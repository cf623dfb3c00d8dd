"""`apply` and `forget` ask before they change DNS; with no terminal to ask on they need `--yes`
(as terraform does): `echo n | mailzone forget ... --delete-records` must not delete anything.

The CLI runs in a subprocess whose stdin is not a terminal (nothing, or a piped answer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import files, mailzone, refused

REFUSAL = "no terminal to confirm on; pass --yes"
ZONE_FILE = Path("build/zones/example.org.zone")


def init(root: Path, ipv4: str = "203.0.113.25") -> None:
    run = mailzone(root, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", ipv4)
    assert run.code == 0, run.err


@pytest.mark.parametrize("stdin", [None, "y\n", "n\n"])
def test_apply_without_a_terminal_or_yes_refuses_and_writes_nothing(
    tmp_path: Path, stdin: str | None
) -> None:
    # given a spec whose records are not written yet
    init(tmp_path)
    before = files(tmp_path)

    # when apply runs from a script, nothing or an answer piped in, without --yes
    error = refused(mailzone(tmp_path, "apply", stdin=stdin))

    # then it says how to go on and writes no zone, backup or state
    assert error == REFUSAL
    assert files(tmp_path) == before
    assert not (tmp_path / ZONE_FILE).exists()


def test_apply_of_an_edit_without_yes_leaves_the_zone_file_as_it_was(tmp_path: Path) -> None:
    # given an applied zone and a spec edit
    init(tmp_path)
    assert mailzone(tmp_path, "apply", "--yes").code == 0
    spec = tmp_path / "zones" / "example.org.yaml"
    spec.write_text(spec.read_text().replace("203.0.113.25", "203.0.113.26"))
    before = files(tmp_path)

    # when apply runs without a terminal and without --yes
    error = refused(mailzone(tmp_path, "apply"))

    # then nothing is written; with --yes the same run goes through
    assert error == REFUSAL
    assert files(tmp_path) == before
    assert mailzone(tmp_path, "apply", "--yes").code == 0
    assert "203.0.113.26" in (tmp_path / ZONE_FILE).read_text()


def test_apply_with_nothing_to_change_needs_no_confirmation(tmp_path: Path) -> None:
    init(tmp_path)
    assert mailzone(tmp_path, "apply", "--yes").code == 0

    run = mailzone(tmp_path, "apply")

    assert (run.code, run.errors) == (0, [])


@pytest.mark.parametrize("delete", [True, False])
def test_forget_without_a_terminal_or_yes_deletes_nothing(tmp_path: Path, delete: bool) -> None:
    # given an applied domain
    init(tmp_path)
    assert mailzone(tmp_path, "apply", "--yes").code == 0
    before = files(tmp_path)
    args = ["--delete-records", "--force"] if delete else []

    # when `echo n | mailzone forget DOMAIN --delete-records` runs
    error = refused(mailzone(tmp_path, "forget", "example.org", *args, stdin="n\n"))

    # then it refuses, and the zone file, the state and the backups are as they were
    assert error == REFUSAL
    assert files(tmp_path) == before
    assert mailzone(tmp_path, "forget", "example.org", *args, "--yes").code == 0
