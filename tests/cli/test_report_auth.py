"""DMARC report authorisation records for destinations that are also in the repository."""

from __future__ import annotations

from pathlib import Path

from tests.cli import mailzone
from tests.helpers import basic_spec, write_spec


def _spec(domain: str, rua: str) -> str:
    return basic_spec(domain).replace(
        f'rua: ["mailto:postmaster@{domain}"]', f'rua: ["mailto:postmaster@{domain}", "{rua}"]'
    )


def test_destination_in_the_repo_publishes_the_authorisation(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", _spec("example.org", "mailto:dmarc@reports.example.net"))
    write_spec(tmp_path, "shop.example.org", _spec("shop.example.org", "mailto:dmarc@example.net"))
    write_spec(tmp_path, "example.net", basic_spec("example.net"))

    net = mailzone(tmp_path, "records", "example.net")
    org = mailzone(tmp_path, "records", "example.org")

    assert net.returncode == 0, net.stderr
    lines = net.stdout.splitlines()
    assert 'example.org._report._dmarc.reports 300 IN TXT "v=DMARC1"' in lines
    assert 'shop.example.org._report._dmarc 300 IN TXT "v=DMARC1"' in lines
    assert "_report" not in org.stdout  # nobody reports to example.org


def test_destination_outside_the_repo_adds_nothing(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", _spec("example.org", "mailto:dmarc@reports.example.com"))

    run = mailzone(tmp_path, "records", "example.org")

    assert run.returncode == 0
    assert "_report" not in run.stdout
