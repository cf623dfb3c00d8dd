"""rspamd signs with the dkim_signing.conf `mailzone rotate` wrote, before and after a rotation.

One private rspamd for the module (it takes about 20 s to start; tests/rspamd_rig.py): Debian's
rspamd.conf, mailzone's `local.d/dkim_signing.conf` (the host config's `mta.config_file`), keys
in group _rspamd, and SIGHUP as the reload command. Messages go in with `rspamc --mime` and come
back signed; dkimpy verifies them against what the test BIND serves.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rspamd_rig import USER, Rspamd, rspamd_root
from tests.servers import BindServer
from tests.signing_site import (
    DOMAIN,
    RECIPIENT,
    SENDER,
    first_and_second_key,
    signed_by,
    signing_site,
)

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.")]

RELOAD_TIMEOUT = 120.0  # a SIGHUP makes rspamd load its whole configuration again


@pytest.fixture(scope="module")
def rspamd() -> Iterator[Rspamd]:
    with rspamd_root() as root:
        server = Rspamd(root).start()
        try:
            yield server
        finally:
            server.stop()


def message(subject: str) -> bytes:
    return (
        f"From: Sender <{SENDER}>\r\nTo: <{RECIPIENT}>\r\nSubject: {subject}\r\n"
        f"Date: Sat, 05 Dec 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{subject.replace(' ', '-')}@{DOMAIN}>\r\n\r\n"
        "Hello from rspamd.\r\n"
    ).encode()


def test_rspamd_signs_authenticated_mail_with_the_active_selector_before_and_after_a_rotation(
    rspamd: Rspamd, bind_server: BindServer
) -> None:
    site_root = Path(tempfile.mkdtemp(prefix="site-", dir=rspamd.root))
    site_root.chmod(0o755)
    mta = {
        "kind": "rspamd",
        "config_file": str(rspamd.dkim_signing_conf),
        "reload": [rspamd.reload_command()],
    }
    site = signing_site(site_root, bind_server, mta, key_group=USER)
    assert signed_by(rspamd.sign(message("before any key"), SENDER, SENDER)) == []

    def sign(subject: str, selector: str) -> bytes:
        """Sign once the reloaded rspamd signs with `selector` (SIGHUP respawns the workers)."""
        deadline = time.monotonic() + RELOAD_TIMEOUT
        while True:
            signed = rspamd.sign(message(subject), SENDER, SENDER)
            if signed_by(signed) == [selector] or time.monotonic() > deadline:
                return signed
            time.sleep(0.5)

    rotation = first_and_second_key(site, sign)

    assert signed_by(rotation.signed_first) == [rotation.first], rspamd.log()
    assert site.verifies(rotation.signed_first) == [True]
    assert signed_by(rotation.signed_second) == [rotation.second], rspamd.log()
    assert site.verifies(rotation.signed_second) == [True]
    # mail neither authenticated nor from a local address is not signed (sign_authenticated)
    assert signed_by(rspamd.sign(message("from outside"), SENDER, None)) == []
