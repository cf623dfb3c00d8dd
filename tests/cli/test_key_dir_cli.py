"""Where private keys go without a host config: outside the repository and its `build/`, said
on `init`; keys left in the old default, `build/keys/`, get one warning with the move command."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.cli import mailzone

INIT = ("init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "192.0.2.1")
REAL_DEFAULTS = (Path("/var/lib/mailzone"), Path.home() / ".local" / "share" / "mailzone")


def _listing(paths: tuple[Path, ...]) -> list[str]:
    return sorted(str(p) for base in paths if base.exists() for p in base.rglob("*"))


def test_init_puts_the_first_key_outside_the_checkout_and_says_where(
    tmp_path: Path, private_key_dir: Path
) -> None:
    # given a repository without a host config, and the real default directories as they are
    before = _listing(REAL_DEFAULTS)
    repo = tmp_path / "repo"
    repo.mkdir()
    # when
    run = mailzone(repo, *INIT)
    # then the key is in the (test's private) default directory, not in build/, and init says so
    assert run.code == 0, run.err
    assert [p.name.startswith("example.org.") for p in private_key_dir.iterdir()] == [True]
    assert not (repo / "build").exists()
    assert f"private keys live in {private_key_dir}, outside the repository" in run.out
    assert run.err == ""
    assert _listing(REAL_DEFAULTS) == before  # the suite never touches the real defaults


def test_init_with_a_key_dir_says_nothing_about_the_default(tmp_path: Path) -> None:
    host = tmp_path / "host.yaml"
    host.write_text(f"key_dir: {tmp_path / 'keys'}\n")
    run = mailzone(tmp_path, *INIT, "--host-config", str(host))
    assert run.code == 0, run.err
    assert len(list((tmp_path / "keys").glob("example.org.*.pem"))) == 1
    assert "private keys live in" not in run.out


def test_keys_left_in_build_keys_get_one_warning_with_the_move_command(
    tmp_path: Path, private_key_dir: Path
) -> None:
    # given a repository whose key is still where the old default put it
    assert mailzone(tmp_path, *INIT).code == 0
    old = tmp_path / "build" / "keys"
    old.mkdir(parents=True)
    (key,) = private_key_dir.iterdir()
    key.rename(old / key.name)
    private_key_dir.rmdir()
    # when any command loads the host settings
    listed = mailzone(tmp_path, "keys", "list")
    # then one warning names the problem and the command that moves the keys
    (warning,) = [line for line in listed.err.splitlines() if "build/keys" in line]
    assert warning.startswith("warning: 1 DKIM private key(s) are still in build/keys/")
    command = warning.split("move them with `")[1].rstrip("`")
    assert command == (
        f"install -d -m 700 {private_key_dir} && mv -n build/keys/*.pem {private_key_dir}/"
    )
    assert "missing" in listed.out
    # and running that command fixes it
    subprocess.run(["sh", "-c", command], cwd=tmp_path, check=True)
    again = mailzone(tmp_path, "keys", "list")
    assert "build/keys" not in again.err
    assert (private_key_dir / key.name).exists() and "yes" in again.out
    assert oct(private_key_dir.stat().st_mode & 0o777) == "0o700"
