"""Plain `octodns-sync` with mailzone's source and processor, against real servers.

An octoDNS user adds mail domains to their own config; the served records and the protection
of foreign records must be the same as with `mailzone apply`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.cli import mailzone
from tests.foreign import FOREIGN, add_foreign, assert_foreign_intact
from tests.helpers import basic_spec, dkim_spec, rsa_public_b64, write_spec
from tests.servers import BindServer, DnsServer, PowerDnsServer, ServerFactory, query, txt_values

pytestmark = pytest.mark.integration

MAIL_NAMES = [
    ("example.org.", "MX"),
    ("example.org.", "TXT"),
    ("mail.example.org.", "A"),
    ("mail.example.org.", "AAAA"),
    ("mail.example.org.", "TXT"),
    ("_dmarc.example.org.", "TXT"),
    ("20200803._domainkey.example.org.", "TXT"),
    ("_mailzone.example.org.", "TXT"),
]


def octodns_sync(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from octodns.cmds.sync import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, "--config-file", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_config(root: Path, server: DnsServer, force: bool = False) -> Path:
    config = {
        "providers": {
            "mail": {"class": "mailzone.octo.source.MailzoneSource", "root": str(root)},
            "target": server.provider_config(),
        },
        "processors": {
            "mailzone": {"class": "mailzone.octo.processor.MailzoneProcessor", "force": force}
        },
        "zones": {
            "example.org.": {"sources": ["mail"], "processors": ["mailzone"], "targets": ["target"]}
        },
    }
    path = root / "octodns.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def served(server: DnsServer) -> dict[tuple[str, str], list[str]]:
    return {(name, rtype): query(server, name, rtype) for name, rtype in MAIL_NAMES}


def test_octodns_sync_serves_what_mailzone_apply_serves(
    tmp_path: Path,
    bind_factory: ServerFactory[BindServer],
    pdns_factory: ServerFactory[PowerDnsServer],
    dns_server: DnsServer,
) -> None:
    key = rsa_public_b64()
    # the same spec applied twice: by octodns-sync to one server, by mailzone to a twin
    factory = bind_factory if isinstance(dns_server, BindServer) else pdns_factory
    twin: DnsServer = factory(zones=["example.org."])
    for server in (dns_server, twin):
        add_foreign(server)
    via_octodns = tmp_path / "octo"
    write_spec(via_octodns, "example.org", dkim_spec(key))
    via_mailzone = tmp_path / "mz"
    write_spec(via_mailzone, "example.org", dkim_spec(key))
    (via_mailzone / "providers").mkdir()
    (via_mailzone / "providers" / "target.yaml").write_text(yaml.safe_dump(twin.provider_config()))

    synced = octodns_sync(write_config(via_octodns, dns_server), "--doit")
    applied = mailzone(via_mailzone, "apply", "--yes")

    assert synced.returncode == 0, synced.stderr[-2000:]
    assert applied.returncode == 0, applied.stdout
    assert served(dns_server) == served(twin)
    assert txt_values(dns_server, "20200803._domainkey.example.org.") == [
        f"v=DKIM1; k=rsa; p={key}"
    ]
    assert_foreign_intact(dns_server)
    # and each tool sees the other's result as its own: no changes either way
    again = octodns_sync(write_config(via_octodns, dns_server))
    assert "No changes were planned" in again.stdout + again.stderr
    (via_octodns / "providers").mkdir()
    (via_octodns / "providers" / "target.yaml").write_text(
        yaml.safe_dump(dns_server.provider_config())
    )
    assert mailzone(via_octodns, "plan", "--exit-code").returncode == 0


def test_octodns_sync_guard_stops_a_mail_breaking_plan(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    add_foreign(dns_server, FOREIGN[:2])
    spec = basic_spec(provider="target")
    write_spec(tmp_path, "example.org", spec)
    assert octodns_sync(write_config(tmp_path, dns_server), "--doit").returncode == 0
    write_spec(tmp_path, "example.org", spec[: spec.index("dmarc:")])

    refused = octodns_sync(write_config(tmp_path, dns_server), "--doit")

    assert refused.returncode != 0
    assert "deletes the DMARC record" in refused.stderr
    assert txt_values(dns_server, "_dmarc.example.org.") != []

    forced = octodns_sync(write_config(tmp_path, dns_server, force=True), "--doit")

    assert forced.returncode == 0, forced.stderr[-2000:]
    assert txt_values(dns_server, "_dmarc.example.org.") == []
    assert "google-site-verification=abc123" in txt_values(dns_server, "example.org.")
