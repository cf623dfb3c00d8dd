"""Hostile input from a pull request (issue 11): a YAML bomb and an SPF record no server takes
are refused by `validate` and `plan` with one line and exit 1, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import files, mailzone, refused
from tests.helpers import basic_spec, write_spec
from tests.unit.test_yaml_limits import LAUGHS


@pytest.mark.parametrize("command", [("validate",), ("plan",)])
def test_five_thousand_ip4_entries_are_one_line_before_any_write(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    ips = "".join(f"\n    - 10.0.{i // 256}.{i % 256}" for i in range(5000))
    write_spec(tmp_path, "example.org", basic_spec(extra="spf:\n  ip4:" + ips + "\n"))
    before = files(tmp_path)
    error = refused(mailzone(tmp_path, *command))
    assert error.startswith(
        "zones/example.org.yaml:12: spf.ip4: the SPF record example.org would be "
    ), error
    assert files(tmp_path) == before


@pytest.mark.parametrize("where", ["zones/example.org.yaml", "state/example.org.yaml"])
def test_billion_laughs_is_one_line(tmp_path: Path, where: str) -> None:
    write_spec(tmp_path, "example.org", basic_spec())
    (tmp_path / where).parent.mkdir(exist_ok=True)
    (tmp_path / where).write_text(LAUGHS)
    error = refused(mailzone(tmp_path, "validate"))
    assert error.startswith(f"{where}:1: YAML anchor '&a' is not allowed"), error
