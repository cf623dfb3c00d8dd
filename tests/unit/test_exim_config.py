"""Exim4 (Debian) DKIM configuration: the rendered lookup file and macro block, merging the block
into exim4.conf.localmacros, and the checks that catch each silent way of sending unsigned."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailzone.errors import MailzoneError
from mailzone.mta.exim import (
    BEGIN_MARKER,
    END_MARKER,
    Signing,
    merge_localmacros,
    render_exim,
)
from mailzone.mta.exim_check import Finding, check_exim

KEY_DIR = Path("/etc/exim4/dkim")
LOOKUP = Path("/var/lib/mailzone/exim-dkim-selectors")
DUAL = [Signing("example.org", ["20261124r", "20261124e"]), Signing("Example.NET.", ["s1"])]
USER_FILE = "# my settings\nMAIN_TLS_ENABLE = yes\n"


def block(strict: bool = True) -> str:
    return render_exim(DUAL, KEY_DIR, LOOKUP, strict=strict).macros_block


# -- rendering -------------------------------------------------------------------------------


def test_lookup_file_lists_one_line_per_domain_with_dual_selectors() -> None:
    files = render_exim(DUAL, KEY_DIR, LOOKUP)

    lines = [line for line in files.lookup_text.splitlines() if not line.startswith("#")]
    assert lines == ["example.net: s1", "example.org: 20261124r : 20261124e"]
    assert files.lookup_file == LOOKUP


def test_macro_block_is_taint_safe_strict_and_marked() -> None:
    text = block()

    assert text.startswith(BEGIN_MARKER) and text.endswith(END_MARKER + "\n")
    assert "DKIM_CANON = relaxed\n" in text
    assert (
        f"DKIM_DOMAIN = ${{lookup{{${{lc:${{domain:$h_from:}}}}}}lsearch,ret=key{{{LOOKUP}}}}}\n"
        in text
    )
    assert f"DKIM_SELECTOR = ${{lookup{{$dkim_domain}}lsearch{{{LOOKUP}}}}}\n" in text
    assert (
        "DKIM_PRIVATE_KEY = ${lookup{${dkim_domain}.${dkim_selector}.pem}dsearch,ret=full"
        f"{{{KEY_DIR}}}{{$value}}{{0}}}}\n"
    ) in text
    assert "DKIM_STRICT = 1\n" in text


def test_non_strict_block_leaves_dkim_strict_out() -> None:
    assert "DKIM_STRICT" not in block(strict=False)


def test_split_config_file_carries_the_same_block() -> None:
    files = render_exim(DUAL, KEY_DIR, LOOKUP)

    assert str(files.split_config_file) == "conf.d/main/00_mailzone_dkim"


@pytest.mark.parametrize(
    "signing",
    [
        [Signing("example.org", [])],
        [Signing("example.org", ["a", "b", "c"])],
        [Signing("example.org", ["a : b"])],
        [Signing("exa mple.org", ["a"])],
        [Signing("example.org", ["a"]), Signing("EXAMPLE.org.", ["b"])],
        [Signing("example.org", ["a", "a"])],
    ],
)
def test_render_refuses_what_exim_cannot_use(signing: list[Signing]) -> None:
    with pytest.raises(MailzoneError):
        render_exim(signing, KEY_DIR, LOOKUP)


@pytest.mark.parametrize("path", [Path("relative/dir"), Path("/etc/exim 4"), Path("/a/${x}")])
def test_render_refuses_paths_exim_would_expand_or_split(path: Path) -> None:
    with pytest.raises(MailzoneError):
        render_exim(DUAL, path, LOOKUP)


# -- merging into exim4.conf.localmacros --------------------------------------------------------


def test_merge_appends_block_and_keeps_user_lines() -> None:
    merged = merge_localmacros(USER_FILE, block())

    assert merged.startswith(USER_FILE)
    assert merged.endswith(block())


def test_merge_adds_missing_final_newline_before_and_after_the_block() -> None:
    merged = merge_localmacros("MAIN_TLS_ENABLE = yes", block())
    assert merged.startswith("MAIN_TLS_ENABLE = yes\n" + BEGIN_MARKER)

    user_after = merge_localmacros(block() + "REMOTE_SMTP_HELO_DATA = mx", block())
    assert user_after.endswith("REMOTE_SMTP_HELO_DATA = mx\n")


def test_merge_replaces_only_the_marked_block() -> None:
    existing = merge_localmacros(USER_FILE, block()) + "MAIN_LOG_SELECTOR = +all\n"

    merged = merge_localmacros(existing, block(strict=False))

    assert merged == USER_FILE + block(strict=False) + "MAIN_LOG_SELECTOR = +all\n"


def test_merge_is_idempotent() -> None:
    once = merge_localmacros(USER_FILE, block())

    assert merge_localmacros(once, block()) == once


def test_merge_of_an_empty_file_is_the_block() -> None:
    assert merge_localmacros("", block()) == block()


@pytest.mark.parametrize(
    "broken", [BEGIN_MARKER + "\nX = 1\n", "X = 1\n" + END_MARKER + "\n", block() + block()]
)
def test_merge_refuses_unbalanced_markers(broken: str) -> None:
    with pytest.raises(MailzoneError, match="markers"):
        merge_localmacros(broken, block())


# -- checks ------------------------------------------------------------------------------------


@dataclass
class Setup:
    """A healthy non-split Debian layout in a temp dir, readable by `group`."""

    etc: Path
    keys: Path
    lookup: Path
    group: str
    signing: list[Signing]

    def check(self) -> list[Finding]:
        return check_exim(
            self.etc,
            key_dir=self.keys,
            lookup_file=self.lookup,
            signing=self.signing,
            exim_user=None,
            exim_group=self.group,
        )

    def debconf(self, **settings: str) -> None:
        values = {"dc_eximconfig_configtype": "internet", "dc_use_split_config": "false"}
        values.update(settings)
        text = "".join(f"{name}='{value}'\n" for name, value in values.items())
        (self.etc / "update-exim4.conf.conf").write_text(text)


def messages(findings: list[Finding], level: str = "fail") -> str:
    return "\n".join(f.message for f in findings if f.level == level)


@pytest.fixture
def setup() -> Iterator[Setup]:
    # Not tmp_path: pytest's base dir is 0700, and the check walks every parent directory.
    root = Path(tempfile.mkdtemp(prefix="mailzone-exim-check-"))
    try:
        root.chmod(0o755)
        signing = [Signing("example.org", ["20261124r", "20261124e"])]
        keys, lookup, etc = root / "keys", root / "selectors", root / "etc"
        keys.mkdir(mode=0o750)
        etc.mkdir()
        for selector in signing[0].selectors:
            key = keys / f"example.org.{selector}.pem"
            key.write_text("not a real key: the check only looks at names and modes\n")
            key.chmod(0o640)
        files = render_exim(signing, keys, lookup)
        lookup.write_text(files.lookup_text)
        (etc / "exim4.conf.localmacros").write_text(
            merge_localmacros(USER_FILE, files.macros_block)
        )
        state = Setup(etc, keys, lookup, grp.getgrgid(os.getgid()).gr_name, signing)
        state.debconf()
        yield state
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_healthy_setup_has_no_findings(setup: Setup) -> None:
    assert setup.check() == []


@pytest.mark.parametrize("configtype", ["smarthost", "satellite"])
def test_smarthost_configtype_is_a_failure(setup: Setup, configtype: str) -> None:
    setup.debconf(dc_eximconfig_configtype=configtype)

    (finding,) = setup.check()

    assert finding.level == "fail" and "remote_smtp_smarthost" in finding.message
    assert "configtype 'internet'" in finding.fix


def test_localmacros_without_final_newline_is_a_failure(setup: Setup) -> None:
    path = setup.etc / "exim4.conf.localmacros"
    path.write_text(path.read_text().rstrip("\n"))

    assert "does not end with a newline" in messages(setup.check())


def test_missing_localmacros_block_is_a_failure(setup: Setup) -> None:
    (setup.etc / "exim4.conf.localmacros").write_text(USER_FILE)

    assert "has no mailzone DKIM block" in messages(setup.check())


def test_split_config_without_the_conf_d_file_is_a_failure(setup: Setup) -> None:
    setup.debconf(dc_use_split_config="true")

    found = messages(setup.check())

    assert "dc_use_split_config='true'" in found
    assert "split config does not read that file" in found


def test_split_config_with_the_conf_d_file_is_healthy(setup: Setup) -> None:
    setup.debconf(dc_use_split_config="true")
    target = setup.etc / "conf.d/main/00_mailzone_dkim"
    target.parent.mkdir(parents=True)
    target.write_text(render_exim(setup.signing, setup.keys, setup.lookup).macros_block)

    assert setup.check() == []


def test_exim4_conf_overriding_the_generated_config_is_a_failure(setup: Setup) -> None:
    (setup.etc / "exim4.conf").write_text("# hand-written\n")

    assert "instead of the config update-exim4.conf generates" in messages(setup.check())


def test_key_unreadable_by_the_exim_group_is_a_failure(setup: Setup) -> None:
    (setup.keys / "example.org.20261124e.pem").chmod(0o600)

    found = messages(setup.check())

    assert "example.org.20261124e.pem" in found and "cannot read" in found


def test_key_directory_not_traversable_is_a_failure(setup: Setup) -> None:
    setup.keys.chmod(0o700)

    found = setup.check()

    assert any("cannot traverse" in f.message and str(setup.keys) in f.message for f in found)


def test_parent_directory_not_traversable_is_a_failure(setup: Setup) -> None:
    setup.keys.parent.chmod(0o700)
    try:
        assert f"{setup.keys.parent}: " in messages(setup.check())
    finally:
        setup.keys.parent.chmod(0o755)


def test_missing_key_for_a_configured_selector_is_a_failure(setup: Setup) -> None:
    (setup.keys / "example.org.20261124r.pem").unlink()

    found = messages(setup.check())

    assert "no key for selector '20261124r'" in found and "yields 0" in found


def test_lookup_file_with_other_selectors_is_a_failure(setup: Setup) -> None:
    setup.lookup.write_text("example.org: old\n")

    assert "expected ['20261124r', '20261124e']" in messages(setup.check())


def test_block_naming_another_key_dir_is_a_failure(setup: Setup) -> None:
    stale = render_exim(setup.signing, Path("/elsewhere"), setup.lookup).macros_block
    path = setup.etc / "exim4.conf.localmacros"
    path.write_text(merge_localmacros(path.read_text(), stale))

    assert f"does not use the key directory {setup.keys}" in messages(setup.check())


def test_dkim_macro_also_defined_outside_the_block_is_a_failure(setup: Setup) -> None:
    path = setup.etc / "exim4.conf.localmacros"
    path.write_text("DKIM_CANON = simple\n" + path.read_text())

    assert "defines DKIM_CANON outside the mailzone block" in messages(setup.check())


def test_missing_dkim_strict_is_a_warning(setup: Setup) -> None:
    loose = render_exim(setup.signing, setup.keys, setup.lookup, strict=False).macros_block
    path = setup.etc / "exim4.conf.localmacros"
    path.write_text(merge_localmacros(path.read_text(), loose))

    (finding,) = setup.check()

    assert finding.level == "warn" and "DKIM_STRICT" in finding.message


def test_failures_come_before_warnings(setup: Setup) -> None:
    loose = render_exim(setup.signing, setup.keys, setup.lookup, strict=False).macros_block
    (setup.etc / "exim4.conf.localmacros").write_text(loose.rstrip("\n"))

    levels = [f.level for f in setup.check()]

    assert levels == sorted(levels, key=lambda level: level != "fail") and "warn" in levels


def test_install_keeps_an_existing_files_mode_and_writes_only_changes(tmp_path: Path) -> None:
    from mailzone.mta.exim import render_macros
    from mailzone.mta.install import MtaFile, install

    macros = tmp_path / "exim4.conf.localmacros"
    macros.write_text("MAIN_TLS_ENABLE = yes\n")
    macros.chmod(0o640)
    block = render_macros("/etc/exim4/dkim", "/etc/exim4/mailzone-dkim-selectors")
    lookup = tmp_path / "selectors"

    written = install([MtaFile(macros, block, block=True), MtaFile(lookup, "example.org: s1\n")])

    assert written == [macros, lookup]
    assert macros.stat().st_mode & 0o777 == 0o640
    assert lookup.stat().st_mode & 0o777 == 0o644
    assert macros.read_text().startswith("MAIN_TLS_ENABLE = yes\n# BEGIN mailzone")
    assert install([MtaFile(macros, block, block=True), MtaFile(lookup, "example.org: s1\n")]) == []


def test_key_group_the_exim_user_is_not_in_is_a_failure(setup: Setup) -> None:
    # Debian-exim (the user Exim's transport runs as) is not in nogroup
    try:
        pwd.getpwnam("Debian-exim")
        grp.getgrnam("nogroup")
    except KeyError:
        pytest.skip("needs Debian's Debian-exim user and nogroup group")
    found = check_exim(
        setup.etc,
        key_dir=setup.keys,
        lookup_file=setup.lookup,
        signing=setup.signing,
        exim_user="Debian-exim",
        exim_group="Debian-exim",
        key_group="nogroup",
    )

    fails = [f for f in found if f.level == "fail" and f.message.startswith("key_group nogroup")]
    assert len(fails) == 1, found
    assert fails[0].fix == (
        "set key_group: Debian-exim in the host config, or run: adduser Debian-exim nogroup"
    )


def test_world_readable_key_is_a_warning_whose_fix_keeps_it_readable_by_exim(
    setup: Setup,
) -> None:
    key = setup.keys / "example.org.20261124r.pem"
    key.chmod(0o644)

    found = [f for f in setup.check() if str(key) in f.message]

    assert [(f.level, f.fix) for f in found] == [
        ("warn", f"chgrp {setup.group} {key} && chmod 0640 {key}")
    ]
    assert "anyone here can sign mail as example.org" in found[0].message
