"""A hand-edited state file gets an error that names what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailzone.errors import SpecError
from mailzone.repo.state import load_state


def test_unknown_state_version_names_the_version_mailzone_reads(tmp_path: Path) -> None:
    # given a state file from a future mailzone
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "example.org.yaml").write_text("version: 99\ndomain: example.org\n")

    # when
    with pytest.raises(SpecError) as caught:
        load_state(tmp_path, "example.org")

    # then the allowed value is named, not an empty list
    assert str(caught.value).endswith("version: 99 is not one of 1")
    assert ":1:" in str(caught.value)
