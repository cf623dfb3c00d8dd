"""A private Exim4 built from Debian's own template signs with mailzone's keys and macros.

Each test writes keys with `KeyStore(group="Debian-exim")`, renders the lookup file and the macro
block itself, and hands the merged localmacros to the rig in `tests/exim_rig.py`, which builds a
config the way `update-exim4.conf` does in non-split mode, submits one message with
`exim -C conf -odi` to a local SMTP sink; what the sink received is verified with dkimpy against
the DKIM keys published through octoDNS in a real BIND. Nothing leaves 127.0.0.1 and Exim does
no DNS. (`test_rotation_exim.py` drives the same rig from the files `mailzone rotate` writes.)
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dkim
import pytest
from octodns.record import Record
from octodns.zone import Zone

from mailzone.dkim.keys import generate_private_key, private_key_pem, public_key_of
from mailzone.dkim.store import KeyStore
from mailzone.mta.exim import Signing, merge_localmacros, render_exim
from mailzone.spec.dkim_key import Algorithm
from mailzone.util.files import write_atomic
from tests.exim_rig import (
    EXIM_USER,
    USER_LOCALMACROS,
    EximRig,
    dnsfunc_for,
    exim_rig,
    message,
    signatures,
)
from tests.servers import BindServer, make_provider

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.")]


@dataclass
class Rig:
    """The private Exim, plus keys and a lookup file this module renders itself."""

    exim: EximRig
    keys: KeyStore
    lookup_file: Path

    @property
    def sink(self) -> queue.Queue[bytes]:
        return self.exim.sink.messages

    def configure(self, signing: list[Signing]) -> Path:
        files = render_exim(signing, self.keys.directory, self.lookup_file)
        write_atomic(self.lookup_file, files.lookup_text, mode=0o644)
        return self.exim.config_from(merge_localmacros(USER_LOCALMACROS, files.macros_block))


@pytest.fixture
def rig() -> Iterator[Rig]:
    with exim_rig() as exim:
        yield Rig(exim, KeyStore(exim.root / "keys", group=EXIM_USER), exim.root / "selectors")


def publish(server: BindServer, keys: dict[str, str]) -> None:
    """Publish `selector -> DKIM TXT value` under example.org through octoDNS."""
    zone = Zone("example.org.", [])
    for selector, value in keys.items():
        zone.add_record(
            Record.new(
                zone,
                f"{selector}._domainkey",
                {"type": "TXT", "ttl": 300, "value": value.replace(";", "\\;")},
            )
        )
    provider = make_provider(server)
    provider.apply(provider.plan(zone))


def make_key(rig: Rig, selector: str, algorithm: Algorithm) -> str:
    """Store a new key for example.org; return its DKIM TXT value."""
    key = generate_private_key(algorithm)
    rig.keys.write("example.org", selector, private_key_pem(key))
    return public_key_of(key).txt_value()


def deliver(rig: Rig, signing: list[Signing], subject: str) -> bytes:
    return rig.exim.deliver(rig.configure(signing), message(subject))


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_exim_signs_and_the_published_key_verifies(
    rig: Rig, bind_server: BindServer, algorithm: Algorithm
) -> None:
    selector = f"20261124{algorithm[0]}"
    publish(bind_server, {selector: make_key(rig, selector, algorithm)})

    received = deliver(rig, [Signing("example.org", [selector])], algorithm)

    assert signatures(received) == 1, received.decode()
    assert f"s={selector}".encode() in received
    assert dkim.verify(received, dnsfunc=dnsfunc_for(bind_server))


def test_exim_dual_signs_rsa_and_ed25519_and_both_verify(rig: Rig, bind_server: BindServer) -> None:
    published = {
        "20261124r": make_key(rig, "20261124r", "rsa"),
        "20261124e": make_key(rig, "20261124e", "ed25519"),
    }
    publish(bind_server, published)

    received = deliver(rig, [Signing("example.org", ["20261124r", "20261124e"])], "dual")

    assert signatures(received) == 2, received.decode()
    verifier = dkim.DKIM(received)
    results = [verifier.verify(idx=i, dnsfunc=dnsfunc_for(bind_server)) for i in range(2)]
    assert results == [True, True]
    assert b"a=rsa-sha256" in received and b"a=ed25519-sha256" in received


def test_signature_with_an_unpublished_key_does_not_verify(
    rig: Rig, bind_server: BindServer
) -> None:
    publish(bind_server, {"20261124r": make_key(rig, "20261124r", "rsa")})
    make_key(rig, "unpublished", "rsa")

    received = deliver(rig, [Signing("example.org", ["unpublished"])], "negative")

    assert signatures(received) == 1, received.decode()
    assert not dkim.verify(received, dnsfunc=dnsfunc_for(bind_server))


def test_mail_from_a_domain_not_in_the_lookup_file_leaves_unsigned(
    rig: Rig, bind_server: BindServer
) -> None:
    make_key(rig, "20261124r", "rsa")

    received = deliver(rig, [Signing("example.com", ["20261124r"])], "not ours")

    assert signatures(received) == 0


def test_missing_key_file_sends_unsigned_even_with_dkim_strict(
    rig: Rig, bind_server: BindServer
) -> None:
    # The dsearch yields "0", which Exim reads as "do not sign": exim_check reports this case.
    make_key(rig, "other", "rsa")

    received = deliver(rig, [Signing("example.org", ["nokey"])], "no key")

    assert signatures(received) == 0


def test_unreadable_key_with_dkim_strict_defers_instead_of_sending_unsigned(
    rig: Rig, bind_server: BindServer
) -> None:
    make_key(rig, "20261124r", "rsa")
    rig.keys.path("example.org", "20261124r").chmod(0o600)  # Debian-exim can no longer read it
    conf = rig.configure([Signing("example.org", ["20261124r"])])

    rig.exim.send(conf, message("unreadable"))

    with pytest.raises(queue.Empty):
        rig.sink.get(timeout=2)
    log = rig.exim.mainlog()
    assert "dkim_strict is set. Deferring" in log, log
    assert "== rcpt@example.net" in log, log  # "==": delivery deferred
