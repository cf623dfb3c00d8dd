"""What `forget --delete-records` may delete: what mailzone could have generated for the
domain, never a claim the `_mailzone` registry in DNS makes on its own (issue 11)."""

from __future__ import annotations

from pathlib import Path

from mailzone.octo.forget import deletable_entries
from mailzone.repo.project import load_domain
from mailzone.repo.state import save_state
from mailzone.spec.state import DomainState
from tests.helpers import basic_spec, write_spec

# one line per value; a value past 255 octets is split into strings, here mid-entry
BACKUP = """\
; live records of example.org read by mailzone before apply, 2026-01-01T00:00:00+00:00
; provider pdns; restore by hand if an apply went wrong
$ORIGIN example.org.
_mailzone 300 IN TXT "mailzone:1 example.net MX/@"
_mailzone 300 IN TXT "mailzone:1 example.org A/ma" "il CNAME/shop MX/@"
_mailzone 300 IN TXT "mailzone:1 example.org SPF/@"
"""


def test_with_a_spec_its_expansion_and_the_last_applied_records(tmp_path: Path) -> None:
    save_state(tmp_path, DomainState(domain="example.org", records=["A/mail2"]))
    domain = load_domain(write_spec(tmp_path, "example.org", basic_spec()), tmp_path)

    entries = deletable_entries(tmp_path, "example.org", "example.org", domain)

    assert entries == {"MX/@", "SPF/@", "TXT/_dmarc", "A/mail", "AAAA/mail", "SPF/mail", "A/mail2"}


def test_without_a_spec_the_state_says_what_its_last_apply_generated(tmp_path: Path) -> None:
    save_state(tmp_path, DomainState(domain="example.org", records=["MX/@", "SPF/@"]))
    (tmp_path / "build" / "backups").mkdir(parents=True)
    (tmp_path / "build" / "backups" / "example.org.20260101T000000Z.zone").write_text(BACKUP)

    assert deletable_entries(tmp_path, "example.org", "example.org", None) == {"MX/@", "SPF/@"}


def test_without_spec_or_applied_records_the_newest_backup_of_the_zone(tmp_path: Path) -> None:
    folder = tmp_path / "build" / "backups"
    folder.mkdir(parents=True)
    (folder / "example.org.20260101T000000Z.zone").write_text(BACKUP)
    (folder / "example.org.uk.20270101T000000Z.zone").write_text(BACKUP.replace("A/mail", "A/uk"))

    entries = deletable_entries(tmp_path, "example.org", "example.org", None)

    # a type no record family produces (CNAME) is never mailzone's
    assert entries == {"A/mail", "MX/@", "SPF/@"}


def test_without_spec_state_or_backup_nothing(tmp_path: Path) -> None:
    assert deletable_entries(tmp_path, "example.org", "example.org", None) == frozenset()
