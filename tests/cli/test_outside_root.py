"""Hostile input from a pull request (issue 11): files that lead outside the repository.

A symlink in `zones/`, `state/` or `providers/` (or a symlinked folder), a FIFO, a
`public_key_file` naming `/etc/shadow`, a `build` symlink and a provider `class:` defined in
the repository are each refused with one line naming the file as the repository writes it,
exit 1, nothing written and nothing of the outside file printed."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from tests.cli import mailzone, refused, write_provider
from tests.helpers import basic_spec, rsa_key, rsa_public_b64, write_spec

SECRET = "secret-7f3a9c-never-shown"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one spec; `outside/` beside it holds a file with SECRET in it."""
    root = tmp_path / "repo"
    write_spec(root, "example.org", basic_spec())
    outside = tmp_path / "outside"
    outside.mkdir()
    # a spec whose domain quotes the secret in the error it would raise if read
    (outside / "example.org.yaml").write_text(basic_spec(domain=f"{SECRET}.example"))
    return root


def snapshot(tmp_path: Path) -> dict[str, bytes]:
    """Every regular file under tmp_path (repository and outside), no symlink followed."""
    return {
        str(p.relative_to(tmp_path)): p.read_bytes()
        for p in tmp_path.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


def refused_quietly(root: Path, *args: str) -> str:
    """The one error line of a run that exited 1 and printed nothing of the outside file."""
    run = mailzone(root, *args)
    assert SECRET not in run.out + run.err
    return refused(run)


@pytest.mark.parametrize("command", [("validate",), ("plan",)])
def test_spec_symlinked_outside_is_refused_unread(repo: Path, command: tuple[str, ...]) -> None:
    spec = repo / "zones" / "example.org.yaml"
    spec.unlink()
    spec.symlink_to(repo.parent / "outside" / "example.org.yaml")
    error = refused_quietly(repo, *command)
    assert error == (
        "zones/example.org.yaml: a symlink to a file outside the repository; "
        "mailzone reads only files inside it"
    )


def test_zones_folder_symlinked_outside_is_refused(repo: Path) -> None:
    (repo / "zones" / "example.org.yaml").unlink()
    (repo / "zones").rmdir()
    (repo / "zones").symlink_to(repo.parent / "outside")
    error = refused_quietly(repo, "validate")
    assert error.startswith(
        "zones/example.org.yaml: zones/ is a symlink to a folder outside the repository"
    ), error


def test_symlink_inside_the_repository_is_fine(repo: Path) -> None:
    shared = repo / "shared" / "example.org.yaml"
    shared.parent.mkdir()
    (repo / "zones" / "example.org.yaml").rename(shared)
    (repo / "zones" / "example.org.yaml").symlink_to("../shared/example.org.yaml")
    assert mailzone(repo, "validate").code == 0


@pytest.mark.parametrize("command", [("validate",), ("plan",)])
def test_state_symlinked_outside_is_refused(repo: Path, command: tuple[str, ...]) -> None:
    (repo / "state").mkdir()
    (repo / "state" / "example.org.yaml").symlink_to(repo.parent / "outside" / "example.org.yaml")
    error = refused_quietly(repo, *command)
    assert error.startswith("state/example.org.yaml: a symlink to a file outside"), error


@pytest.mark.parametrize("folder", ["state", "build"])
@pytest.mark.parametrize("command", [("validate",), ("plan",), ("apply", "--yes")])
def test_write_folder_symlinked_outside_is_refused_before_any_write(
    repo: Path, folder: str, command: tuple[str, ...]
) -> None:
    (repo / folder).symlink_to(repo.parent / "outside")
    before = snapshot(repo.parent)
    error = refused_quietly(repo, *command)
    assert f"{folder}" in error.partition(":")[0], error
    assert "outside the repository; mailzone writes only inside it" in error, error
    assert snapshot(repo.parent) == before


def test_provider_file_symlinked_outside_is_refused(repo: Path) -> None:
    write_spec(repo, "example.org", basic_spec(provider="dns"))
    (repo / "providers").mkdir()
    (repo / "providers" / "dns.yaml").symlink_to(repo.parent / "outside" / "example.org.yaml")
    error = refused_quietly(repo, "validate")
    assert error.startswith("providers/dns.yaml: a symlink to a file outside"), error


@pytest.mark.parametrize("where", ["zones/example.org.yaml", "state/example.org.yaml"])
def test_fifo_is_refused_without_waiting_for_a_writer(repo: Path, where: str) -> None:
    path = repo / where
    path.parent.mkdir(exist_ok=True)
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    error = refused_quietly(repo, "validate")  # the run's 60 s timeout fails a hang
    assert error == f"{where}: not a regular file (a FIFO)"


def test_directory_named_like_a_spec_is_refused(repo: Path) -> None:
    (repo / "zones" / "other.org.yaml").mkdir()
    error = refused_quietly(repo, "validate")
    assert error == "zones/other.org.yaml: not a regular file (a directory)"


def key_spec(name: str) -> str:
    return basic_spec(
        extra=f"dkim:\n  import:\n    - {{selector: s1, public_key_file: '{name}'}}\n"
    )


@pytest.mark.parametrize("given", ["absolute", "relative"])
@pytest.mark.parametrize("command", [("validate",), ("plan",)])
def test_public_key_file_outside_the_repository_is_refused(
    repo: Path, given: str, command: tuple[str, ...]
) -> None:
    key = repo.parent / "outside" / "shadow"
    key.write_text(rsa_public_b64())  # a good key: refused for where it is, not what it holds
    name = str(key) if given == "absolute" else "../../outside/shadow"
    write_spec(repo, "example.org", key_spec(name))
    error = refused_quietly(repo, *command)
    assert error == (
        f"zones/example.org.yaml:13: dkim.import[0].public_key_file: selector 's1': {name} is "
        "outside the repository and the key directory; mailzone reads public keys only from there"
    )


def test_public_key_file_in_the_key_directory_is_read(repo: Path) -> None:
    keys = repo.parent / "keys"
    keys.mkdir()
    (keys / "s1.pub").write_text(rsa_public_b64())
    write_spec(repo, "example.org", key_spec(str(keys / "s1.pub")))
    assert mailzone(repo, "validate", env={"MAILZONE_KEY_DIR": str(keys)}).code == 0


def test_public_key_file_content_is_never_quoted(repo: Path) -> None:
    (repo / "zones" / "bad.pub").write_text(f"{SECRET}!#$%\n")
    write_spec(repo, "example.org", key_spec("bad.pub"))
    error = refused_quietly(repo, "validate")
    assert error.endswith("selector 's1': bad.pub is not a PEM/DER public key"), error
    assert "!" not in error


def test_public_key_file_too_big_is_refused(repo: Path) -> None:
    (repo / "zones" / "big.pub").write_text("A" * (65 << 10))
    write_spec(repo, "example.org", key_spec("big.pub"))
    error = refused_quietly(repo, "validate")
    assert error.endswith("big.pub: larger than 64 KiB, too big for a public key"), error


def test_public_key_file_in_der_is_read(repo: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    der = (
        rsa_key()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (repo / "zones" / "s1.der").write_bytes(der)
    write_spec(repo, "example.org", key_spec("s1.der"))
    run = mailzone(repo, "records", "example.org")
    assert run.code == 0, run.err
    assert base64.b64encode(der).decode()[:60] in run.out.replace('" "', "")


@pytest.mark.parametrize("layout", ["module", "package"])
@pytest.mark.parametrize("command", [("validate",), ("plan",)])
def test_provider_class_in_the_repository_is_never_imported(
    repo: Path, layout: str, command: tuple[str, ...]
) -> None:
    marker = repo.parent / "imported"
    code = f"open({str(marker)!r}, 'w').write('ran')\n"
    if layout == "module":
        (repo / "evil.py").write_text(code)
    else:
        (repo / "evil").mkdir()
        (repo / "evil" / "__init__.py").write_text(code)
    write_spec(repo, "example.org", basic_spec(provider="dns"))
    write_provider(repo, "dns", {"class": "evil.Provider"})
    error = refused_quietly(repo, *command)
    assert error == (
        "providers/dns.yaml:1: class: 'evil' would be imported from inside the repository; "
        "mailzone runs provider classes only from installed packages"
    )
    assert not marker.exists()


def test_local_directory_leading_outside_is_refused(repo: Path) -> None:
    write_spec(repo, "example.org", basic_spec(provider="files"))
    write_provider(
        repo, "files", {"class": "mailzone.octo.local.LocalZoneFileProvider", "directory": "../x"}
    )
    before = snapshot(repo.parent)
    error = refused_quietly(repo, "apply", "--yes")
    assert error.startswith(
        "providers/files.yaml:2: directory: '../x' is outside the repository"
    ), error
    assert snapshot(repo.parent) == before


@pytest.mark.parametrize(
    ("provider", "key", "value"),
    [
        ("octodns.provider.yaml.YamlProvider", "directory", "/etc"),
        ("octodns_bind.ZoneFileProvider", "directory", "../../var/lib/bind"),
        ("mailzone.octo.local.LocalZoneFileProvider", "directory", "/tmp"),
    ],
)
@pytest.mark.parametrize("command", [("validate",), ("apply", "--yes")])
def test_a_provider_folder_outside_the_repository_is_refused(
    repo: Path, provider: str, key: str, value: str, command: tuple[str, ...]
) -> None:
    # a pull request must not make apply write zone files into /etc
    write_spec(repo, "example.org", basic_spec(provider="files"))
    write_provider(repo, "files", {"class": provider, key: value})
    before = snapshot(repo.parent)
    error = refused_quietly(repo, *command)
    assert error.startswith(
        f"providers/files.yaml:2: {key}: {value!r} is outside the repository"
    ), error
    assert snapshot(repo.parent) == before


def test_a_provider_folder_elsewhere_comes_from_the_environment(repo: Path) -> None:
    # the applying host (not the file) may put the zone files elsewhere
    elsewhere = repo.parent / "bind-zones"
    write_spec(repo, "example.org", basic_spec(provider="files"))
    write_provider(
        repo,
        "files",
        {
            "class": "octodns_bind.ZoneFileProvider",
            "directory": "env/ZONE_DIR",
            "mailzone": {"create_zones": True},
        },
    )
    run = mailzone(repo, "apply", "--yes", env={"ZONE_DIR": str(elsewhere)})
    assert run.code == 0, run.err
    (written,) = elsewhere.iterdir()
    assert "192.0.2.25" in written.read_text()


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_local_zone_file_outside_or_a_fifo_is_refused(repo: Path, kind: str) -> None:
    zone = repo / "build" / "zones" / "example.org.zone"
    zone.parent.mkdir(parents=True)
    if kind == "symlink":  # git ignores build/, but `git add -f` commits it anyway
        (repo.parent / "outside" / "shadow").write_text(f"{SECRET} IN TXT x\n")
        zone.symlink_to(repo.parent / "outside" / "shadow")
    else:
        os.mkfifo(zone)
    try:
        error = refused_quietly(repo, "plan")
    finally:
        zone.unlink()  # the suite's check of written zone files would wait on the FIFO
    assert error.startswith("build/zones/example.org.zone: "), error
