"""DKIM private keys on disk: atomic, never overwritten, never readable by others, and what they
sign verifies against the published public key. Keys are generated here; none is committed."""

from __future__ import annotations

import base64
import grp
import os
import stat
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from mailzone.dkim.keys import (
    PrivateKey,
    generate_many,
    generate_private_key,
    private_key_pem,
    public_key_of,
)
from mailzone.dkim.store import KeyStore
from mailzone.errors import MailzoneError
from mailzone.spec.dkim_key import Algorithm, parse_public_key
from tests.helpers import rsa_public_b64
from tests.servers import in_ci

MESSAGE = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.fixture(scope="module", params=["rsa", "ed25519"])
def pem(request: pytest.FixtureRequest) -> bytes:
    return private_key_pem(generate_private_key(request.param))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _body_lines(pem: bytes) -> list[str]:
    return [line for line in pem.decode().splitlines() if not line.startswith("-----")]


def _assert_no_key_material(text: str, pem: bytes) -> None:
    assert "PRIVATE KEY" not in text
    for line in _body_lines(pem):
        assert line not in text


def test_written_key_reads_back_with_the_same_public_half(tmp_path: Path, pem: bytes) -> None:
    store = KeyStore(tmp_path / "dkim")
    path = store.write("Example.ORG", "s1", pem)
    assert path == tmp_path / "dkim" / "example.org.s1.pem"
    expected = public_key_of(serialization.load_pem_private_key(pem, None))  # type: ignore[arg-type]
    key = store.read("example.org", "s1")
    assert public_key_of(key) == expected
    assert parse_public_key(expected.txt_value()) == expected
    assert store.fingerprint_matches("example.org", "s1", expected.fingerprint)
    other = public_key_of(generate_private_key("ed25519")).fingerprint
    assert not store.fingerprint_matches("example.org", "s1", other)


def test_keys_are_0600_in_a_0700_directory_without_a_group(tmp_path: Path, pem: bytes) -> None:
    store = KeyStore(tmp_path / "dkim")
    path = store.write("example.org", "s1", pem)
    assert _mode(path) == 0o600
    assert _mode(tmp_path / "dkim") == 0o700


def test_keys_are_0640_and_chgrp_with_a_group(tmp_path: Path, pem: bytes) -> None:
    group = grp.getgrgid(os.getgid())
    store = KeyStore(tmp_path / "dkim", group=group.gr_name)
    path = store.write("example.org", "s1", pem)
    assert _mode(path) == 0o640
    assert path.stat().st_gid == group.gr_gid
    assert _mode(tmp_path / "dkim") == 0o750
    assert (tmp_path / "dkim").stat().st_gid == group.gr_gid
    store.read("example.org", "s1")


def test_unknown_group_is_named(tmp_path: Path) -> None:
    with pytest.raises(MailzoneError, match="no-such-group-xyz"):
        KeyStore(tmp_path, group="no-such-group-xyz")


def test_temp_file_is_never_wider_than_0600(
    tmp_path: Path, pem: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a umask that would make new files world-readable
    old_umask = os.umask(0)
    try:
        store = KeyStore(tmp_path / "dkim")
        store.write("example.org", "old", pem)
        seen: list[int] = []
        real_link = os.link

        def spy(src: str, dst: str) -> None:
            seen.append(stat.S_IMODE(os.stat(src).st_mode))
            real_link(src, dst)

        monkeypatch.setattr(os, "link", spy)
        store.write("example.org", "new", pem)
    finally:
        os.umask(old_umask)
    assert seen == [0o600]


def test_failed_write_leaves_no_temp_file_and_other_keys_intact(
    tmp_path: Path, pem: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = KeyStore(tmp_path)
    old = store.write("example.org", "old", pem)

    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "link", fail)
    with pytest.raises(OSError):
        store.write("example.org", "new", pem)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["example.org.old.pem"]
    assert old.read_bytes() == pem
    assert _mode(old) == 0o600


def test_an_existing_key_is_never_overwritten(tmp_path: Path, pem: bytes) -> None:
    store = KeyStore(tmp_path)
    path = store.write("example.org", "s1", pem)
    other = private_key_pem(generate_private_key("ed25519"))
    with pytest.raises(MailzoneError, match="already exists") as caught:
        store.write("example.org", "s1", other)
    assert path.read_bytes() == pem
    _assert_no_key_material(str(caught.value), other)


@pytest.mark.parametrize(
    ("mode", "why"),
    [(0o644, "every user"), (0o660, "change"), (0o666, "change"), (0o640, "group")],
)
def test_unsafe_permissions_are_refused_with_the_fix(
    tmp_path: Path, pem: bytes, mode: int, why: str
) -> None:
    store = KeyStore(tmp_path)
    path = store.write("example.org", "s1", pem)
    os.chmod(path, mode)
    with pytest.raises(MailzoneError) as caught:
        store.read("example.org", "s1")
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    assert f"{mode:04o}" in message
    assert why in message
    assert f"chmod 600 {path}" in message
    _assert_no_key_material(message, pem)


def test_group_readable_key_of_another_group_is_refused(tmp_path: Path, pem: bytes) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    store = KeyStore(tmp_path, group=group)
    path = store.write("example.org", "s1", pem)
    store._gid = (
        store._gid + 1 if store._gid is not None else None
    )  # as if the file's group were wrong
    with pytest.raises(MailzoneError, match=f"chgrp {group} {path}"):
        store.read("example.org", "s1")


def test_missing_and_unreadable_keys_name_the_path(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    with pytest.raises(MailzoneError, match=str(store.path("example.org", "nope"))):
        store.read("example.org", "nope")
    not_a_key = b"-----BEGIN " + b"PRIVATE KEY-----\nQUJD\n"  # split so key scanners see none
    garbage = store.write("example.org", "bad", not_a_key)
    with pytest.raises(MailzoneError, match=f"{garbage}: not a readable PEM private key"):
        store.read("example.org", "bad")


def test_names_that_could_escape_the_directory_are_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    for domain, selector in [("../etc", "s1"), ("example.org", "a/b"), ("example.org", ".s")]:
        with pytest.raises(MailzoneError):
            store.path(domain, selector)


def test_repr_shows_no_key(tmp_path: Path, pem: bytes) -> None:
    store = KeyStore(tmp_path)
    store.write("example.org", "s1", pem)
    store.read("example.org", "s1")
    _assert_no_key_material(repr(store), pem)


def test_selectors_list_delete_and_archive(tmp_path: Path, pem: bytes) -> None:
    store = KeyStore(tmp_path / "keys")
    store.write("example.org", "s1", pem)
    store.write("example.org", "s2.2024", pem)
    store.write("example.net", "s1", pem)
    assert store.selectors_of("example.org") == ["s1", "s2.2024"]
    assert store.list() == [
        ("example.net", "s1"),
        ("example.org", "s1"),
        ("example.org.s2", "2024"),
    ]

    moved = store.archive("example.org", "s1", tmp_path / "archive")
    assert moved.read_bytes() == pem
    assert _mode(moved) == 0o600
    assert store.selectors_of("example.org") == ["s2.2024"]
    store.delete("example.org", "s2.2024")
    assert store.selectors_of("example.org") == []
    with pytest.raises(MailzoneError, match="no DKIM key"):
        store.delete("example.org", "s2.2024")


def test_generate_many_on_two_processes_gives_distinct_valid_keys() -> None:
    rsa: list[tuple[Algorithm, int]] = [("rsa", 2048)] * 4
    specs = rsa + [("ed25519", 0)] * 2
    pems = generate_many(specs, processes=2)
    assert len(set(pems)) == len(specs)
    keys = [serialization.load_pem_private_key(p, None) for p in pems]
    assert [public_key_of(k).algorithm for k in keys] == [a for a, _ in specs]  # type: ignore[arg-type]
    assert all(public_key_of(k).bits == 2048 for k in keys[:4])  # type: ignore[arg-type]


def test_bad_sizes_are_refused_before_any_work() -> None:
    with pytest.raises(ValueError, match="1024"):
        generate_many([("rsa", 2048), ("rsa", 1024)], processes=2)
    with pytest.raises(ValueError, match="dsa"):
        generate_private_key("dsa")  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_dkimpy_verifies_a_signature_made_with_a_stored_key(
    tmp_path: Path, algorithm: Algorithm
) -> None:
    store = KeyStore(tmp_path)
    store.write("example.org", "s1", private_key_pem(generate_private_key(algorithm)))
    key = store.read("example.org", "s1")
    public = public_key_of(key)

    signed = dkim.sign(
        MESSAGE,
        b"s1",
        b"example.org",
        _dkimpy_private(key),
        signature_algorithm=b"ed25519-sha256" if algorithm == "ed25519" else b"rsa-sha256",
    )

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"s1._domainkey.example.org."
        return public.txt_value().encode()

    assert dkim.verify(signed + MESSAGE, dnsfunc=dns)


def _dkimpy_private(key: PrivateKey) -> bytes:
    # dkimpy reads RSA as PEM but Ed25519 as base64 of the raw 32-byte seed
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return base64.b64encode(raw)
    return private_key_pem(key)


def test_problem_judges_a_key_by_what_the_key_group_can_read(tmp_path: Path, pem: bytes) -> None:
    # given a store with the key group mailzone writes for (as on an Exim host)
    group = grp.getgrgid(os.getgid()).gr_name
    store = KeyStore(tmp_path, group=group)
    path = store.write("example.org", "s1", pem)
    assert store.problem("example.org", "s1") is None  # 0640, the group's: as written
    assert store.problem("example.org", "missing") is None

    # when the group may no longer read it
    os.chmod(path, 0o600)
    problem = store.problem("example.org", "s1")

    # then the problem says so, and the fix gives the group read access back (not 0600)
    assert problem is not None
    assert problem.message == (
        f"{path}: group {group} cannot read this DKIM private key (mode 0600, group {group}): "
        "the MTA cannot sign with it"
    )
    assert problem.fix == f"chmod 640 {path}"
    store.read("example.org", "s1")  # still safe to read for mailzone itself


def test_problem_fix_of_a_key_of_another_group_gives_it_to_the_key_group(
    tmp_path: Path, pem: bytes
) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    store = KeyStore(tmp_path, group=group)
    path = store.write("example.org", "s1", pem)
    os.chmod(path, 0o644)
    store._gid = (store._gid or 0) + 1  # as if the file's group were another one

    problem = store.problem("example.org", "s1")

    assert problem is not None
    assert "lets every user read" in problem.message
    assert problem.fix == f"chgrp {group} {path} && chmod 640 {path}"


def test_without_a_key_group_a_private_0600_key_has_no_problem(tmp_path: Path, pem: bytes) -> None:
    store = KeyStore(tmp_path)
    store.write("example.org", "s1", pem)
    assert store.problem("example.org", "s1") is None


def test_note_of_new_keys_reads_back_and_an_empty_one_is_removed(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    fp = "sha256:" + "ab" * 32
    store.note_new({("Example.ORG", "20270306r"): fp})
    note = tmp_path / ".new-keys"
    assert _mode(note) == 0o600
    assert store.noted_new() == {("example.org", "20270306r"): fp}
    assert store.list() == []  # a dot file: never taken for a key
    before = note.stat().st_ino
    store.note_new({("example.org", "20270306r"): fp})  # unchanged: not rewritten
    assert note.stat().st_ino == before
    store.note_new({})
    assert not note.exists()


@pytest.mark.parametrize("how", ["group-writable", "symlink", "another user"])
def test_a_note_of_new_keys_that_someone_else_could_write_is_ignored(
    tmp_path: Path, how: str
) -> None:
    # given a note that mailzone may not trust to say which key files it wrote
    store = KeyStore(tmp_path / "keys")
    store.note_new({("example.org", "s1"): "sha256:" + "ab" * 32})
    note = tmp_path / "keys" / ".new-keys"
    if how == "group-writable":
        note.chmod(0o620)
    elif how == "symlink":
        real = note.rename(tmp_path / "elsewhere")
        note.symlink_to(real)
    else:
        if os.geteuid() != 0 and not in_ci():
            pytest.skip("chown to another user needs root")
        os.chown(note, 65534, -1)
    # then it counts as no note: a file at a new selector's path is refused, not adopted
    assert store.noted_new() == {}


def test_problem_of_a_key_weaker_than_mailzone_signs_with(tmp_path: Path, pem: bytes) -> None:
    store = KeyStore(tmp_path)
    path = store.write("example.org", "s1", pem)
    weak = parse_public_key(rsa_public_b64(1024))
    problem = store.problem("example.org", "s1", weak)
    assert problem is not None
    assert problem.message == (
        f"{path}: an RSA-1024 key, weaker than the 2048 bits mailzone signs with: replace it"
    )
    assert problem.fix == "mailzone rotate --emergency example.org"
    assert store.problem("example.org", "s1", parse_public_key(rsa_public_b64(2048))) is None
    assert store.problem("example.org", "missing", weak) is None  # no file: nothing to judge


def test_archived_compares_the_key_files_themselves_never_through_a_link(
    tmp_path: Path, pem: bytes
) -> None:
    store = KeyStore(tmp_path / "keys")
    path = store.write("example.org", "s1", pem)
    archive = tmp_path / "archive"
    archive.mkdir()
    copy = archive / path.name
    assert not store.archived("example.org", "s1", archive)
    copy.write_bytes(pem)
    assert store.archived("example.org", "s1", archive)
    copy.unlink()
    copy.symlink_to(path)  # a link in the archive is not an archived key
    assert not store.archived("example.org", "s1", archive)
    copy.unlink()
    copy.write_bytes(pem)
    moved = path.rename(tmp_path / "elsewhere.pem")
    path.symlink_to(moved)  # nor is a link in the key directory followed
    with pytest.raises(MailzoneError, match="cannot open the DKIM key") as caught:
        store.archived("example.org", "s1", archive)
    _assert_no_key_material(str(caught.value), pem)
