"""OpenDKIM signs with what `mailzone rotate` wrote, before and after a rotation.

A private OpenDKIM (tests/opendkim_rig.py) runs as the opendkim user from an opendkim.conf
holding only its own settings; mailzone merges its block into that file, writes the KeyTable and
SigningTable and the keys (group opendkim), and reloads it with SIGUSR1 as `systemctl reload`
would. miltertest plays the MTA; dkimpy verifies each message against what the test BIND serves.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from mailzone.mta.opendkim import render_opendkim
from mailzone.mta.signing import Signing
from tests.opendkim_rig import USER, OpenDkim, SigningFailed, opendkim_root, require_opendkim
from tests.servers import BindServer, find_binary
from tests.signing_site import (
    DOMAIN,
    RECIPIENT,
    SENDER,
    first_and_second_key,
    signed_by,
    signing_site,
)

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.")]

RELOAD_TIMEOUT = 30.0


def headers(subject: str) -> list[tuple[str, str]]:
    return [
        ("From", f"Sender <{SENDER}>"),
        ("To", f"<{RECIPIENT}>"),
        ("Subject", subject),
        ("Message-ID", f"<{subject.replace(' ', '-')}@{DOMAIN}>"),
    ]


def test_opendkim_signs_with_the_active_selector_before_and_after_a_rotation(
    bind_server: BindServer,
) -> None:
    with opendkim_root() as root:
        opendkim = OpenDkim(root)
        conf = opendkim.write_config()
        etc = root / "etc"
        mta = {
            "kind": "opendkim",
            "algorithm": "rsa",
            "config_file": str(conf),
            "key_table": str(etc / "key.table"),
            "signing_table": str(etc / "signing.table"),
            "reload": [opendkim.reload_command()],
        }
        site = signing_site(root, bind_server, mta, key_group=USER)
        # before any key is active mailzone has written nothing: OpenDKIM runs, signs nothing
        opendkim.start()
        try:
            with pytest.raises(SigningFailed):
                opendkim.sign(headers("before any key"), "Hello.\r\n")

            def sign(subject: str, selector: str) -> bytes:
                """Sign once the reloaded OpenDKIM signs with `selector` (SIGUSR1 is lazy)."""
                deadline = time.monotonic() + RELOAD_TIMEOUT
                while True:
                    try:
                        signed = opendkim.sign(headers(subject), "Hello from OpenDKIM.\r\n")
                    except SigningFailed:
                        if time.monotonic() > deadline:
                            raise
                    else:
                        if signed_by(signed) == [selector] or time.monotonic() > deadline:
                            return signed
                    time.sleep(0.2)

            rotation = first_and_second_key(site, sign)
        finally:
            opendkim.stop()

        assert "# BEGIN mailzone" in conf.read_text()
        assert signed_by(rotation.signed_first) == [rotation.first]
        assert site.verifies(rotation.signed_first) == [True]
        assert signed_by(rotation.signed_second) == [rotation.second]
        assert site.verifies(rotation.signed_second) == [True]


def test_opendkim_accepts_a_dual_signing_rendering_of_each_algorithm(tmp_path: Path) -> None:
    require_opendkim()
    algorithms = {"20261124r": "rsa", "20261124e": "ed25519", "s1": "rsa", "e1": "ed25519"}
    dual = [
        Signing("example.org", ["20261124r", "20261124e"]),
        Signing("Example.NET.", ["s1", "e1"]),
    ]
    binary = find_binary("opendkim")
    assert binary is not None
    for algorithm in ("rsa", "ed25519"):
        files = render_opendkim(
            dual,
            Path("/etc/dkimkeys"),
            algorithm,
            algorithms,
            key_table_file=tmp_path / f"{algorithm}.key.table",
            signing_table_file=tmp_path / f"{algorithm}.signing.table",
        )
        (tmp_path / f"{algorithm}.key.table").write_text(files.key_table)
        (tmp_path / f"{algorithm}.signing.table").write_text(files.signing_table)
        conf = tmp_path / f"{algorithm}.conf"
        conf.write_text(files.config_snippet + f"Socket local:{tmp_path / algorithm}.sock\n")

        result = subprocess.run(
            [binary, "-n", "-x", str(conf)], capture_output=True, text=True, check=False
        )

        assert result.returncode == 0, result.stderr
