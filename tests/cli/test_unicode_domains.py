"""A domain typed in Unicode is the same domain as its IDNA form, in every command."""

from __future__ import annotations

from pathlib import Path

from tests.cli import mailzone


def test_a_unicode_domain_name_works_after_init_stored_it_as_idna(tmp_path: Path) -> None:
    # given init of a Unicode domain (stored as xn--bcher-kva.test)
    made = mailzone(
        tmp_path, "init", "bücher.test", "--mail-host", "mail.bücher.test", "--ipv4", "192.0.2.1"
    )
    assert made.code == 0, made.err
    assert (tmp_path / "zones" / "xn--bcher-kva.test.yaml").is_file()

    # when the user types the name as they know it
    shown = mailzone(tmp_path, "records", "bücher.test")
    planned = mailzone(tmp_path, "plan", "bücher.test", "--format", "json")

    # then both find the spec
    assert shown.code == 0, shown.err
    assert "$ORIGIN xn--bcher-kva.test." in shown.out
    assert planned.code == 0, planned.err
