"""Every mistake in the mail host's settings (`host.yaml`) as one
`error: host.yaml:LINE: field: what` line with exit 1 and nothing written, run through
`mailzone rotate` (the command that needs it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import files, inproc, mailzone, refused
from tests.helpers import basic_spec, write_dedented, write_spec

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
    host = write_dedented(tmp_path / "etc" / "host.yaml", text)
    before = files(tmp_path)
    error = refused(inproc(root, "rotate", "--host-config", str(host)))
    assert error.startswith(f"{host.parent}/{expected}"), error
    assert files(tmp_path) == before  # no key, no state, no MTA file


def test_bad_host_config_in_a_real_process(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write_spec(root, "example.org", basic_spec())
    host = write_dedented(
        tmp_path / "host.yaml", "key_dir: keys\nmta:\n  kind: exim\n  reload: [false]\n"
    )
    before = files(tmp_path)
    error = refused(mailzone(root, "rotate", "--host-config", str(host)))
    assert error == (
        f"{host}:4: mta.reload: 'false' is not a word of a command: quote it "
        "(YAML reads it as a boolean)"
    )
    assert files(tmp_path) == before
