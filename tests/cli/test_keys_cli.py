"""`mailzone keys list` and `mailzone keys import`: the happy paths, and every refusal as one
`error:` line, exit 1, nothing written and no key lost.

Runs go through the console entry point in this process (see `inproc`) to keep the file fast;
one list and one import run as real subprocesses."""

from __future__ import annotations

import json
import os
import pwd
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from mailzone.dkim import keys
from mailzone.spec import dkim_key
from tests.cli import Run, inproc, mailzone, refused
from tests.helpers import basic_spec, rsa_key, rsa_public_b64, write_spec

DOMAIN = "example.org"
CREATED = datetime(2026, 1, 5, tzinfo=UTC)


def pem(key: Any, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    data: bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    return data


class Repo:
    """A repository with one spec (no selectors yet) and a host config with a temp key dir."""

    def __init__(self, tmp: Path, extra: str = "") -> None:
        self.tmp = tmp
        self.root = tmp / "repo"
        self.spec = write_spec(self.root, DOMAIN, basic_spec(extra=extra))
        self.keys = tmp / "keys"
        self.host = tmp / "host.yaml"
        self.host.write_text(yaml.safe_dump({"key_dir": str(self.keys), "mta": {"kind": "none"}}))

    def cli(self, *args: str) -> Run:
        return inproc(self.root, *args, "--host-config", str(self.host))

    def pem_file(self, name: str, data: bytes) -> Path:
        path = self.tmp / name
        path.write_bytes(data)
        path.chmod(0o600)
        return path

    def import_(self, selector: str, path: Path, *args: str) -> Run:
        return self.cli("keys", "import", DOMAIN, selector, str(path), *args)

    def state(self) -> list[dict[str, Any]]:
        path = self.root / "state" / f"{DOMAIN}.yaml"
        if not path.exists():
            return []
        return list(yaml.safe_load(path.read_text()).get("selectors", []))

    def snapshot(self) -> dict[str, bytes]:
        return {
            str(p): p.read_bytes()
            for base in (self.root, self.keys)
            if base.exists()
            for p in sorted(base.rglob("*"))
            if p.is_file()
        }


def test_import_then_rotate_replaces_it_90_days_after_created(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    source = repo.pem_file("old.pem", pem(rsa_key(2048, 0)))
    run = mailzone(
        repo.root,
        "keys",
        "import",
        DOMAIN,
        "20200803",
        str(source),
        "--created",
        "2026-01-05",
        "--host-config",
        str(repo.host),
    )
    assert run.code == 0, run.err
    fingerprint = keys.public_key_of(rsa_key(2048, 0)).fingerprint
    assert f"imported 20200803 (rsa-2048, {fingerprint[:19]}…) as the active selector" in run.out
    assert "rotation is due from 2026-04-05" in run.out
    assert "PRIVATE KEY" not in run.out + run.err
    (entry,) = repo.state()
    assert (entry["selector"], entry["phase"], entry["fingerprint"]) == (
        "20200803",
        "active",
        fingerprint,
    )
    stored = repo.keys / f"{DOMAIN}.20200803.pem"
    assert stored.stat().st_mode & 0o777 == 0o600
    assert (
        keys.public_key_of(
            serialization.load_pem_private_key(stored.read_bytes(), None)  # type: ignore[arg-type]
        ).fingerprint
        == fingerprint
    )
    assert source.exists()  # copied, not moved

    # published by apply; not due before 90 days
    assert inproc(repo.root, "apply", "--yes").code == 0
    quiet = repo.cli("rotate", "--now", (CREATED + timedelta(days=89)).isoformat())
    assert quiet.code == 0 and "nothing due for 1 domain(s); next due 2026-04-05 00:00" in quiet.out

    due = CREATED + timedelta(days=90, hours=1)
    out = repo.cli("rotate", "--now", due.isoformat(), "--apply").out
    assert "example.org: new rsa-2048 key for selector 20260405r" in out
    assert repo.cli("rotate", "--now", (due + timedelta(hours=1)).isoformat()).code == 0
    out = repo.cli("rotate", "--now", (due + timedelta(hours=26)).isoformat()).out
    assert "stop signing with 20200803 (retiring)" in out
    assert {s["selector"]: s["phase"] for s in repo.state()} == {
        "20200803": "retiring",
        "20260405r": "active",
    }


def test_keys_list_text_and_json(tmp_path: Path) -> None:
    imported = rsa_public_b64(2048, 1)
    repo = Repo(
        tmp_path,
        extra=f"dkim:\n  import:\n    - selector: legacy\n      public_key: {imported}\n",
    )
    repo.import_("s2026", repo.pem_file("a.pem", pem(rsa_key(2048, 0))), "--created", "2026-01-05")
    ed = ed25519.Ed25519PrivateKey.generate()
    repo.import_("e2026", repo.pem_file("e.pem", pem(ed)), "--created", "2026-02-01")
    (repo.keys / f"{DOMAIN}.e2026.pem").unlink()  # this host no longer holds it

    run = mailzone(repo.root, "keys", "list", "--host-config", str(repo.host))
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].split() == [
        "DOMAIN", "SELECTOR", "KEY", "PHASE", "CREATED", "FINGERPRINT", "KEY", "FILE",
    ]  # fmt: skip
    rows = {line.split()[1]: line.split() for line in lines[1:]}
    assert rows["legacy"][2:5] == ["rsa-2048", "imported", "-"] and rows["legacy"][-1] == "-"
    assert rows["s2026"][2:5] == ["rsa-2048", "active", "2026-01-05"]
    assert rows["s2026"][-1] == "yes"
    assert rows["e2026"][2:4] == ["ed25519-256", "active"] and rows["e2026"][-1] == "missing"

    data = json.loads(repo.cli("keys", "list", "--format", "json").out)
    by_name = {row["selector"]: row for row in data}
    assert by_name["legacy"]["phase"] == "imported"
    assert by_name["legacy"]["key_file"] is None
    assert by_name["legacy"]["fingerprint"] == dkim_key.parse_public_key(imported).fingerprint
    assert by_name["s2026"]["key_file"] is True
    assert by_name["s2026"]["created"] == "2026-01-05T00:00:00+00:00"
    assert by_name["e2026"]["key_file"] is False
    assert by_name["e2026"]["algorithm"] == "ed25519"
    assert not any("PRIVATE" in json.dumps(row) for row in data)


def test_keys_list_reads_no_private_key(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    repo.import_("s2026", repo.pem_file("a.pem", pem(rsa_key(2048, 0))), "--created", "2026-01-05")
    stored = repo.keys / f"{DOMAIN}.s2026.pem"
    stored.write_bytes(b"garbage\n")
    stored.chmod(0o644)  # KeyStore refuses to read it: a read would fail the command
    run = repo.cli("keys", "list")
    assert run.code == 0, run.err
    assert "s2026" in run.out and run.out.rstrip().endswith("unusable")  # judged by its mode
    assert run.err == (
        f"warning: {DOMAIN} s2026: {stored}: mode 0644 lets every user read this DKIM private "
        f"key; run: chmod 600 {stored}\n"
    )


def test_spec_that_still_imports_the_same_key_is_allowed(tmp_path: Path) -> None:
    repo = Repo(
        tmp_path,
        extra=f"dkim:\n  import:\n    - selector: '20200803'\n      public_key: {rsa_public_b64(2048, 0)}\n",
    )
    run = repo.import_("20200803", repo.pem_file("k.pem", pem(rsa_key(2048, 0))))
    assert run.code == 0, run.err
    assert "now remove selector 20200803 from dkim.import in zones/example.org.yaml" in run.out
    assert inproc(repo.root, "validate").code == 0
    rows = json.loads(repo.cli("keys", "list", "--format", "json").out)
    assert [(r["selector"], r["phase"]) for r in rows] == [("20200803", "active")]


def test_spec_that_imports_another_key_for_the_selector_is_refused(tmp_path: Path) -> None:
    repo = Repo(
        tmp_path,
        extra=f"dkim:\n  import:\n    - selector: '20200803'\n      public_key: {rsa_public_b64(2048, 1)}\n",
    )
    source = repo.pem_file("k.pem", pem(rsa_key(2048, 0)))
    before = repo.snapshot()
    error = refused(repo.import_("20200803", source))
    assert error == (
        f"{source}: its public half differs from the key that example.org.yaml publishes for "
        "selector 20200803"
    )
    assert repo.snapshot() == before


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("bad_label", "SELECTOR: "),
        ("not_pem", "not a PEM private key"),
        ("encrypted", "the key is encrypted; decrypt it first"),
        ("ec_key", "DKIM signs with RSA or Ed25519"),
        ("missing_file", "cannot read"),
        ("already_in_state", "example.org: selector s1 is already in the state"),
        ("bad_created", "--created: 'last year' is not an ISO 8601 date such as 2020-08-03"),
        ("future_created", "--created: 2999-01-01 is in the future"),
        ("second_active", "example.org: s1 is already the active rsa selector"),
    ],
)
def test_import_refusals_are_one_line_and_change_nothing(
    tmp_path: Path, case: str, expected: str
) -> None:
    repo = Repo(tmp_path)
    good = repo.pem_file("good.pem", pem(rsa_key(2048, 0)))
    assert repo.import_("s1", good, "--created", "2026-01-05").code == 0
    selector, source = "s2", good
    if case == "bad_label":
        selector = "bad_sel!"
    elif case == "not_pem":
        source = repo.pem_file("x.pem", b"hello, not a key\n")
    elif case == "encrypted":
        source = repo.pem_file("enc.pem", pem(rsa_key(2048, 2), password=b"secret"))
    elif case == "ec_key":
        source = repo.pem_file("ec.pem", pem(ec.generate_private_key(ec.SECP256R1())))
    elif case == "missing_file":
        source = tmp_path / "nowhere.pem"
    elif case == "already_in_state":
        selector = "s1"
    elif case == "second_active":
        source = repo.pem_file("other.pem", pem(rsa_key(2048, 3)))
    extra = {
        "bad_created": ["--created", "last year"],
        "future_created": ["--created", "2999-01-01"],
    }
    before = repo.snapshot()
    error = refused(repo.import_(selector, source, *extra.get(case, [])))
    assert expected in error, error
    assert "\n" not in error
    assert repo.snapshot() == before
    assert "secret" not in error


def _listed(repo: Repo, *args: str) -> tuple[str, str]:
    """`keys list` of the one selector: its KEY FILE cell and the stderr."""
    run = repo.cli("keys", "list", *args)
    assert run.code == 0, run.err
    return run.out.splitlines()[1].split()[-1], run.err


@pytest.mark.parametrize("target", ["other", "loop"])
def test_keys_list_shows_a_symlinked_key_and_does_not_follow_it(
    tmp_path: Path, target: str
) -> None:
    repo = Repo(tmp_path)
    repo.import_("s2026", repo.pem_file("a.pem", pem(rsa_key(2048, 0))), "--created", "2026-01-05")
    stored = repo.keys / f"{DOMAIN}.s2026.pem"
    other = repo.pem_file("other.pem", stored.read_bytes())  # a fine key elsewhere
    stored.unlink()
    stored.symlink_to(other if target == "other" else stored.name)
    shown = str(other) if target == "other" else stored.name
    assert _listed(repo) == (
        "unusable",
        f"warning: {DOMAIN} s2026: {stored}: a symbolic link to {shown}; mailzone does not "
        "follow links to DKIM keys: put the key file itself there\n",
    )
    data = json.loads(repo.cli("keys", "list", "--format", "json").out)
    assert data[0]["key_file"] is True and "symbolic link" in data[0]["key_problem"]


def test_keys_list_shows_a_key_owned_by_another_user(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("chown to another user needs root")
    repo = Repo(tmp_path)
    repo.import_("s2026", repo.pem_file("a.pem", pem(rsa_key(2048, 0))), "--created", "2026-01-05")
    stored = repo.keys / f"{DOMAIN}.s2026.pem"
    nobody = pwd.getpwnam("nobody")
    os.chown(stored, nobody.pw_uid, -1)
    assert _listed(repo) == (
        "unusable",
        f"warning: {DOMAIN} s2026: {stored}: owned by nobody, not by root (who runs mailzone): "
        f"its owner can replace this DKIM private key; run: chown root {stored}\n",
    )


def test_keys_list_verify_shows_a_key_that_is_not_the_published_one(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    repo.import_("s2026", repo.pem_file("a.pem", pem(rsa_key(2048, 0))), "--created", "2026-01-05")
    stored = repo.keys / f"{DOMAIN}.s2026.pem"
    stored.write_bytes(pem(rsa_key(2048, 1)))  # same mode and owner, another key
    assert _listed(repo) == ("yes", "")  # without --verify no private key is read
    assert _listed(repo, "--verify") == (
        "unusable",
        f"warning: {DOMAIN} s2026: {stored}: its public half does not match the fingerprint of "
        f"s2026 in state/{DOMAIN}.yaml (the key DNS publishes): mail signed with it fails DKIM\n",
    )
    stored.write_bytes(b"garbage\n")
    cell, err = _listed(repo, "--verify")
    assert cell == "unusable" and err == (
        f"warning: {DOMAIN} s2026: {stored}: not a readable PEM private key\n"
    )
    stored.write_bytes(pem(rsa_key(2048, 0)))
    assert _listed(repo, "--verify") == ("yes", "")
