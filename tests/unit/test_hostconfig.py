"""The mail host's settings (`host.yaml`): defaults, paths relative to the file, where the file is
found, and every mistake as one `error: host.yaml:LINE: field: what` line with exit 1 and
nothing written (run through `mailzone rotate`, the command that needs it)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mailzone.errors import MailzoneError
from mailzone.spec.host import ENV_VAR, host_config_path, load_host_config
from tests.cli import files, inproc, mailzone, refused
from tests.helpers import basic_spec, write_spec


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


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
    path = write(
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
    path = write(tmp_path / "host.yaml", "# nothing yet\n")
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


BAD = {
    "unknown_top_level": (
        "key_dir: keys\nkeydir: keys\n",
        "host.yaml:2: unknown field 'keydir' (did you mean 'key_dir'?)",
    ),
    "unknown_mta_field": (
        "mta:\n  kind: exim\n  lookup_fil: /x\n",
        "host.yaml:3: mta: unknown field 'lookup_fil' (did you mean 'lookup_file'?)",
    ),
    "unknown_mta_kind": (
        "mta:\n  kind: postfix\n",
        "host.yaml:2: mta.kind: 'postfix' is not one of none, exim, opendkim, rspamd",
    ),
    "reload_shell_string": (
        "mta:\n  kind: exim\n  reload: systemctl reload exim4\n",
        "host.yaml:3: mta.reload: a command is a list of words (no shell), "
        "e.g. [systemctl, reload, exim4]",
    ),
    "reload_yaml_bool": (
        "mta:\n  kind: exim\n  reload: [true]\n",
        "host.yaml:3: mta.reload: 'true' is not a word of a command: quote it "
        "(YAML reads it as a boolean)",
    ),
    "reload_empty_command": (
        "mta:\n  kind: exim\n  reload: [[]]\n",
        "host.yaml:3: mta.reload: each reload command needs at least a program",
    ),
    "bad_nameserver": (
        "nameservers:\n  example.org: ['127.0.0.1:99999']\n",
        "host.yaml:2: nameservers.example.org[0]: '127.0.0.1:99999': port 99999 is out of range",
    ),
    "unknown_key_group": (
        "key_dir: keys\nkey_group: no-such-group-here\n",
        "host.yaml:2: key_group: no group 'no-such-group-here' on this host",
    ),
    "bad_domain": (
        "domains: [example.org, 'bad..name']\n",
        "host.yaml:1: domains[1]: 'bad..name' is not a domain name",
    ),
    "not_a_mapping": ("- key_dir\n", "host.yaml:1: expected a mapping of fields"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_host_config_is_one_line_naming_file_line_and_field(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    root = tmp_path / "repo"
    write_spec(root, "example.org", basic_spec())
    host = write(tmp_path / "etc" / "host.yaml", text)
    before = files(tmp_path)
    error = refused(inproc(root, "rotate", "--host-config", str(host)))
    assert error.startswith(f"{host.parent}/{expected}"), error
    assert files(tmp_path) == before  # no key, no state, no MTA file


def test_bad_host_config_in_a_real_process(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write_spec(root, "example.org", basic_spec())
    host = write(tmp_path / "host.yaml", "key_dir: keys\nmta:\n  kind: exim\n  reload: [false]\n")
    before = files(tmp_path)
    error = refused(mailzone(root, "rotate", "--host-config", str(host)))
    assert error == (
        f"{host}:4: mta.reload: 'false' is not a word of a command: quote it "
        "(YAML reads it as a boolean)"
    )
    assert files(tmp_path) == before
