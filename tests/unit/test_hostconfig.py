"""The mail host's settings (`host.yaml`): defaults, paths relative to the file, where the file is
found. Each mistake as one `error:` line through `mailzone rotate` is tested in
tests/cli/test_hostconfig_cli.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailzone.errors import MailzoneError
from mailzone.spec.host import ENV_VAR, host_config_path, load_host_config
from tests.helpers import write_dedented


def test_defaults_without_a_file_put_keys_under_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr("mailzone.spec.host.DEFAULT_PATH", tmp_path / "no-such" / "host.yaml")
    config = load_host_config(None, tmp_path)
    assert config.key_path == tmp_path / "build" / "keys"
    assert config.mta.kind == "none"
    assert config.signs_for("anything.example")


def test_relative_paths_start_at_the_file(tmp_path: Path) -> None:
    path = write_dedented(
        tmp_path / "etc" / "host.yaml",
        """
        key_dir: keys
        archive_dir: /var/lib/mailzone/archive
        domains: [example.org]
        mta:
          kind: exim
          lookup_file: exim/selectors
          reload: [update-exim4.conf]
        """,
    )
    config = load_host_config(path, tmp_path / "repo")
    assert config.key_path == tmp_path / "etc" / "keys"
    assert config.path(config.mta.lookup_file) == tmp_path / "etc" / "exim" / "selectors"
    assert config.path(config.archive_dir or "") == Path("/var/lib/mailzone/archive")
    assert config.mta.reload == [["update-exim4.conf"]]  # one argv list is one command
    assert config.signs_for("example.org") and not config.signs_for("example.net")


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    path = write_dedented(tmp_path / "host.yaml", "# nothing yet\n")
    config = load_host_config(path, tmp_path)
    assert config.key_path == tmp_path / "build" / "keys"


def test_where_the_file_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given, env, default = tmp_path / "given.yaml", tmp_path / "env.yaml", tmp_path / "etc.yaml"
    monkeypatch.setattr("mailzone.spec.host.DEFAULT_PATH", default)
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert host_config_path(None) is None  # no default file: no config
    default.write_text("{}\n")
    assert host_config_path(None) == default
    monkeypatch.setenv(ENV_VAR, str(env))
    assert host_config_path(None) == env
    assert host_config_path(given) == given


def test_missing_given_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MailzoneError, match="file not found"):
        load_host_config(tmp_path / "nowhere.yaml", tmp_path)
