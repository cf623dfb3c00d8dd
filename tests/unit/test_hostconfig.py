"""The mail host's settings (`host.yaml`): defaults, paths relative to the file, where the file is
found. Each mistake as one `error:` line through `mailzone rotate` is tested in
tests/cli/test_hostconfig_cli.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailzone.errors import MailzoneError
from mailzone.spec.host import (
    ENV_VAR,
    KEY_DIR_VAR,
    ROOT_KEY_DIR,
    default_key_dir,
    host_config_path,
    load_host_config,
)
from tests.helpers import write_dedented


def test_defaults_without_a_file_put_keys_outside_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr("mailzone.spec.host.DEFAULT_PATH", tmp_path / "no-such" / "host.yaml")
    config = load_host_config(None, tmp_path / "repo")
    assert config.key_path == default_key_dir()
    assert not config.key_path.is_relative_to(tmp_path / "repo")
    assert config.legacy_key_path == tmp_path / "repo" / "build" / "keys"
    assert config.mta.kind == "none"
    assert config.signs_for("anything.example")


def test_default_key_dir_is_per_user_data_or_var_lib_for_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_DIR_VAR)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_key_dir() == tmp_path / "data" / "mailzone" / "keys"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/is/ignored")  # as the XDG spec says
    assert default_key_dir() == tmp_path / "home" / ".local" / "share" / "mailzone" / "keys"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_key_dir() == tmp_path / "home" / ".local" / "share" / "mailzone" / "keys"
    monkeypatch.setattr("os.geteuid", lambda: 0)
    assert default_key_dir() == ROOT_KEY_DIR == Path("/var/lib/mailzone/keys")
    monkeypatch.setenv(KEY_DIR_VAR, str(tmp_path / "chosen"))
    assert default_key_dir() == tmp_path / "chosen"


def test_every_test_has_a_private_default_key_dir(tmp_path: Path) -> None:
    # tests run as root: tests/conftest.py must keep them off /var/lib/mailzone and $HOME
    assert default_key_dir().is_relative_to(tmp_path)
    assert load_host_config(None, tmp_path).key_path.is_relative_to(tmp_path)


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
    path = write_dedented(tmp_path / "etc" / "host.yaml", "# nothing yet\n")
    config = load_host_config(path, tmp_path)
    assert config.key_path == default_key_dir()
    assert config.legacy_key_path == tmp_path / "etc" / "build" / "keys"


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
