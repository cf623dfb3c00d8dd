"""A zone file written by the `local` target, served unchanged by a real BIND."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import mailzone
from tests.servers import BindServer, find_binary, not_installed, query, txt_values

pytestmark = pytest.mark.integration


def test_bind_serves_the_file_local_wrote_with_its_ns_glue_and_mail_records(
    tmp_path: Path,
) -> None:
    # given a zone written by `mailzone apply` with an in-zone nameserver and its glue
    if find_binary(BindServer.binary) is None:
        not_installed("named is not installed (needed to serve the written zone file)")
    assert (
        mailzone(
            tmp_path,
            "init",
            "example.org",
            "--mail-host",
            "mail.example.org",
            "--ipv4",
            "203.0.113.25",
        ).returncode
        == 0
    )
    (tmp_path / "providers").mkdir(exist_ok=True)
    (tmp_path / "providers" / "local.yaml").write_text(
        "class: mailzone.octo.local.LocalZoneFileProvider\n"
        "nameservers: [ns1.example.org, ns2.example.net]\n"
        "glue: {ns1.example.org: [192.0.2.53]}\n"
    )
    assert mailzone(tmp_path, "apply", "--yes").returncode == 0
    written = (tmp_path / "build" / "zones" / "example.org.zone").read_text()

    # when BIND loads exactly that file
    with BindServer(zone_texts={"example.org.": written}).start(["example.org."]) as server:
        # then it answers with what mailzone wrote
        assert query(server, "example.org.", "NS") == ["ns1.example.org.", "ns2.example.net."]
        assert query(server, "ns1.example.org.", "A") == ["192.0.2.53"]
        assert query(server, "example.org.", "MX") == ["10 mail.example.org."]
        assert query(server, "mail.example.org.", "A") == ["203.0.113.25"]
        assert txt_values(server, "example.org.") == ["v=spf1 ip4:203.0.113.25 ~all"]
        assert txt_values(server, "_dmarc.example.org.") == [
            "v=DMARC1; p=none; sp=reject; rua=mailto:postmaster@example.org"
        ]
        soa = query(server, "example.org.", "SOA")
        assert len(soa) == 1 and soa[0].startswith("ns1.example.org. hostmaster.example.org. ")
        selectors = [
            line.split()[0] for line in written.splitlines() if "._domainkey " in line[:40]
        ]
        assert len(selectors) == 1
        (dkim,) = txt_values(server, f"{selectors[0]}.example.org.")
        assert dkim.startswith("v=DKIM1; k=rsa; p=") and len(dkim) > 400
