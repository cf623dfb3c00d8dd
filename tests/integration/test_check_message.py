"""`mailzone check --message`: the verdict on one message, against what a real BIND serves.

The domain is set up the way a user does it (init with a host config, apply to BIND), the
message is signed with the key `init` made, and the check asks only the loopback BIND."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import dkim
import pytest

from tests.cli import Run, mailzone, write_provider
from tests.servers import LOOPBACK, BindServer

pytestmark = [pytest.mark.integration, pytest.mark.zones("example.org.")]

SENDER_IP = "192.0.2.25"  # the host's address in the spec (documentation range, never dialled)
OTHER_IP = "198.51.100.9"


@pytest.fixture
def site(tmp_path: Path, bind_server: BindServer) -> tuple[Path, BindServer, Path]:
    host = tmp_path / "host.yaml"
    host.write_text(f"key_dir: {tmp_path / 'keys'}\n")
    write_provider(tmp_path, "target", bind_server.provider_config())
    init = mailzone(
        tmp_path,
        "init",
        "example.org",
        "--mail-host",
        "mail.example.org",
        "--ipv4",
        SENDER_IP,
        "--provider",
        "target",
        "--dmarc-policy",
        "reject",
        "--host-config",
        str(host),
    )
    assert init.returncode == 0, init.stderr
    applied = mailzone(tmp_path, "apply", "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    (key,) = (tmp_path / "keys").glob("example.org.*.pem")
    return tmp_path, bind_server, key


def _message(sender: str = "alice@example.org") -> bytes:
    return (
        textwrap.dedent(
            f"""\
        From: Alice <{sender}>
        To: bob@example.net
        Subject: hello
        Date: Wed, 25 Nov 2026 10:00:00 +0000
        Message-ID: <1@example.org>

        Hello Bob.
        """
        )
        .replace("\n", "\r\n")
        .encode()
    )


def _sign(message: bytes, key: Path, domain: str = "example.org") -> bytes:
    selector = key.name[len(domain) + 1 : -len(".pem")]
    signature = dkim.sign(
        message,
        selector.encode(),
        domain.encode(),
        key.read_bytes(),
        include_headers=[b"from", b"to", b"subject", b"date"],
    )
    return signature + message


def _verdict(root: Path, server: BindServer, raw: bytes, ip: str) -> tuple[Run, dict[str, str]]:
    path = root / "message.eml"
    path.write_bytes(raw)
    run = mailzone(
        root,
        "check",
        "--message",
        str(path),
        "--sender-ip",
        ip,
        "--nameserver",
        f"{LOOPBACK}:{server.port}",
        "--format",
        "json",
    )
    assert run.returncode in (0, 3), run.stderr
    findings = json.loads(run.stdout)["domains"][0]["findings"]
    return run, {f["check"]: f for f in findings}


def test_signed_message_from_the_mail_host_passes_everything(
    site: tuple[Path, BindServer, Path],
) -> None:
    root, server, key = site
    run, found = _verdict(root, server, _sign(_message(), key), SENDER_IP)

    assert {c: f["status"] for c, f in found.items()} == {
        "spf": "pass",
        "dkim": "pass",
        "dmarc": "pass",
    }
    assert run.returncode == 0


def test_unsigned_message_from_elsewhere_fails_dmarc_with_the_policy(
    site: tuple[Path, BindServer, Path],
) -> None:
    root, server, _ = site
    run, found = _verdict(root, server, _message(), OTHER_IP)

    assert found["spf"]["status"] == "fail"
    assert found["dkim"]["status"] == "fail"
    assert found["dmarc"]["status"] == "fail"
    assert "p=reject" in found["dmarc"]["message"]
    assert run.returncode == 3


def test_signed_but_sent_from_elsewhere_passes_dmarc_through_dkim(
    site: tuple[Path, BindServer, Path],
) -> None:
    root, server, key = site
    _, found = _verdict(root, server, _sign(_message(), key), OTHER_IP)

    assert found["spf"]["status"] == "fail"
    assert found["dkim"]["status"] == "pass"
    assert found["dmarc"]["status"] == "pass"
    assert "DKIM d=example.org" in found["dmarc"]["message"]


def test_a_message_altered_after_signing_fails_dkim(site: tuple[Path, BindServer, Path]) -> None:
    root, server, key = site
    raw = _sign(_message(), key).replace(b"Hello Bob.", b"Hello Eve.")

    _, found = _verdict(root, server, raw, SENDER_IP)

    assert found["dkim"]["status"] == "fail"
    assert found["dkim"]["fix"]
    assert found["dmarc"]["status"] == "pass"  # SPF still aligns
