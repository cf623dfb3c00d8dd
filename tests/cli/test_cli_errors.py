"""The `mailzone` command on bad input: one `error:` line naming file, line and field; exit 1;
never a traceback; nothing written.

Each test runs the real CLI in a subprocess against a temp repository that uses the built-in
`local` provider (or a provider file whose server is never reached), so no DNS server is needed.
"Nothing changed" is checked on the whole repository: every file is byte-for-byte as before
(no zone file in build/zones, no backup, no state or spec half-written)."""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailzone.repo.state import save_state
from mailzone.spec import dkim_key
from mailzone.spec.state import DomainState, SelectorState
from tests.cli import files, line_of, mailzone, refused
from tests.helpers import basic_spec, big_rsa_public_b64, rsa_public_b64, write_spec

SECRET_VAR = "MAILZONE_TEST_TSIG_SECRET"
ZONE_FILE = Path("build/zones/example.org.zone")


def write_provider(root: Path, text: str, name: str = "dns") -> Path:
    """Write providers/<name>.yaml (dedented)."""
    path = root / "providers" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def selector_state(name: str, public_b64: str, phase: str) -> SelectorState:
    """A state entry for a real public key."""
    key = dkim_key.parse_public_key(public_b64)
    return SelectorState.of_key(name, key, phase, datetime(2026, 1, 1, tzinfo=UTC))


# -- a bad spec -----------------------------------------------------------------------------

# lines: 1 domain, 2 provider, 3 ttl, 4 hosts, 5 name, 6 ipv4, 7 ipv6, 8 dmarc, 9 policy, 10 rua
GOOD = basic_spec()


def dkim_import_twice() -> str:
    key = rsa_public_b64()
    return GOOD + textwrap.dedent(
        f"""\
        dkim:
          import:
            - selector: s1
              public_key: {key}
            - selector: s1
              public_key: {key}
        """
    )


def many_rua() -> str:
    """A DMARC record past 4,000 octets of TXT data: 120 long report addresses."""
    uris = "".join(f"\n    - mailto:dmarc-reports-{i:03}@reports.example.org" for i in range(120))
    return GOOD.replace('  rua: ["mailto:postmaster@example.org"]', "  rua:" + uris)


def huge_dkim_import() -> str:
    """An imported RSA key of 24,576 bits: its DKIM record is past 4,000 octets."""
    return (
        GOOD + f"dkim:\n  import:\n    - selector: big\n      public_key: {big_rsa_public_b64()}\n"
    )


SPEC_CASES = {
    "malformed_yaml": (
        GOOD.replace("    ipv6:", "   ipv6:"),
        "zones/example.org.yaml:7: invalid YAML: ",
    ),
    "duplicate_key": (
        GOOD + "ttl: 600\n",
        "zones/example.org.yaml:11: duplicate key 'ttl'",
    ),
    "unknown_top_level_field": (
        GOOD + "dmarcc: {}\n",
        "zones/example.org.yaml:11: unknown field 'dmarcc' (did you mean 'dmarc'?)",
    ),
    "unknown_nested_field": (
        GOOD.replace("  policy: none", "  policy: none\n  polcy: reject"),
        "zones/example.org.yaml:10: dmarc: unknown field 'polcy' (did you mean 'policy'?)",
    ),
    "bad_ipv4": (
        GOOD.replace("192.0.2.25", "192.0.2.256"),
        "zones/example.org.yaml:6: hosts[0].ipv4[0]: '192.0.2.256' is not an IPv4 address",
    ),
    "bad_ipv6": (
        GOOD.replace("2001:db8::25", "2001:db8::g"),
        "zones/example.org.yaml:7: hosts[0].ipv6[0]: '2001:db8::g' is not an IPv6 address",
    ),
    "bad_host_name": (
        GOOD.replace("name: mail", 'name: "mail server"'),
        "zones/example.org.yaml:5: hosts[0].name: 'mail server' is not a host name: "
        "bad label 'mail server'",
    ),
    "duplicate_selector": (
        dkim_import_twice(),
        "zones/example.org.yaml:12: dkim.import: duplicate selector 's1'",
    ),
    "dmarc_record_too_big": (
        many_rua(),
        "zones/example.org.yaml:10: dmarc.rua: the TXT record _dmarc.example.org would be "
        "5,443 octets of TXT data, more than the 4,000 a DNS server or provider takes; "
        "send reports to fewer addresses",
    ),
    "dkim_record_too_big": (
        huge_dkim_import(),
        "zones/example.org.yaml:13: dkim.import[0]: the TXT record big._domainkey.example.org "
        "would be 4,183 octets of TXT data, ",
    ),
}


@pytest.mark.parametrize("case", list(SPEC_CASES))
@pytest.mark.parametrize("command", [("apply", "--yes"), ("records", "example.org")])
def test_bad_spec_is_one_line_naming_file_line_and_field(
    tmp_path: Path, case: str, command: tuple[str, ...]
) -> None:
    body, expected = SPEC_CASES[case]
    write_spec(tmp_path, "example.org", body)
    before = files(tmp_path)

    run = mailzone(tmp_path, *command)

    message = refused(run)
    assert message.startswith(expected) if expected.endswith(" ") else message == expected
    assert run.err.startswith("error: ") and run.err.count("\n") == 1
    assert run.out == ""
    assert files(tmp_path) == before


# -- a bad provider -------------------------------------------------------------------------

# an RFC 2136 target on a port nobody listens on: these errors come before any connection
BIND_PROVIDER = f"""\
class: octodns_bind.Rfc2136Provider
host: 127.0.0.1
port: 9
timeout: 2
key_name: mailzone-test-key.
key_secret: env/{SECRET_VAR}
key_algorithm: hmac-sha256
"""

PROVIDER_CASES = {
    "bad_module": (
        BIND_PROVIDER.replace("octodns_bind.Rfc2136Provider", "octodns_nope.NopeProvider"),
        "providers/dns.yaml:1: class: cannot import 'octodns_nope.NopeProvider' "
        "(No module named 'octodns_nope'); is its octodns-* package installed?",
    ),
    "class_missing": (
        BIND_PROVIDER.replace("Rfc2136Provider", "Rfc2136Providr"),
        "providers/dns.yaml:1: class: 'octodns_bind' has no class 'Rfc2136Providr' "
        "(did you mean 'octodns_bind.Rfc2136Provider'?)",
    ),
    "no_class": (
        BIND_PROVIDER.replace("class:", "klass:"),
        "providers/dns.yaml:1: class: must name an octoDNS provider class, "
        "e.g. octodns_bind.Rfc2136Provider",
    ),
    "unknown_option": (
        BIND_PROVIDER.replace("port: 9", "port: 9\nhots: 127.0.0.1"),
        "providers/dns.yaml:4: unknown option 'hots' for octodns_bind.Rfc2136Provider "
        "(did you mean 'host'?)",
    ),
    "required_option_missing": (
        BIND_PROVIDER.replace("host: 127.0.0.1\n", ""),
        "providers/dns.yaml:1: octodns_bind.Rfc2136Provider needs option(s) 'host'",
    ),
    "unknown_mailzone_field": (
        BIND_PROVIDER + "mailzone:\n  nameserver: [127.0.0.1]\n",
        "providers/dns.yaml:9: mailzone: unknown field 'nameserver' (did you mean 'nameservers'?)",
    ),
    "bad_nameserver": (
        BIND_PROVIDER + "mailzone:\n  nameservers: ['127.0.0.1:99999']\n",
        "providers/dns.yaml:9: mailzone.nameservers: '127.0.0.1:99999': port 99999 is out of range",
    ),
}


@pytest.mark.parametrize("case", list(PROVIDER_CASES))
def test_bad_provider_file_fails_apply_naming_file_line_and_option(
    tmp_path: Path, case: str
) -> None:
    text, expected = PROVIDER_CASES[case]
    write_spec(tmp_path, "example.org", basic_spec(provider="dns"))
    write_provider(tmp_path, text)
    before = files(tmp_path)

    run = mailzone(tmp_path, "apply", "--yes", env={SECRET_VAR: "c2VjcmV0LXZhbHVlLTEyMzQ="})

    assert refused(run) == expected
    assert "failed    example.org\n" in run.out
    assert files(tmp_path) == before


def test_misspelt_required_option_is_named_with_did_you_mean(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec(provider="dns"))
    write_provider(tmp_path, BIND_PROVIDER.replace("host:", "hots:"))

    run = mailzone(tmp_path, "plan", env={SECRET_VAR: "c2VjcmV0LXZhbHVlLTEyMzQ="})

    assert refused(run) == (
        "providers/dns.yaml:2: unknown option 'hots' for octodns_bind.Rfc2136Provider "
        "(did you mean 'host'?)"
    )


def test_missing_env_secret_names_file_line_key_and_variable(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec(provider="dns"))
    write_provider(tmp_path, BIND_PROVIDER)
    before = files(tmp_path)

    run = mailzone(tmp_path, "plan", "--exit-code", unset=(SECRET_VAR,))

    assert refused(run) == (
        f"providers/dns.yaml:6: key_secret: environment variable {SECRET_VAR} is not set"
    )
    assert files(tmp_path) == before


def test_missing_provider_file_lists_the_known_providers(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec(provider="nope"))
    write_provider(tmp_path, BIND_PROVIDER)
    before = files(tmp_path)

    run = mailzone(tmp_path, "apply", "--yes")

    assert refused(run) == "provider 'nope' has no file providers/nope.yaml (known: local, dns)"
    assert files(tmp_path) == before


def test_missing_provider_fails_its_domain_and_applies_the_others(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec())
    write_spec(tmp_path, "example.net", basic_spec("example.net", provider="nope"))

    run = mailzone(tmp_path, "apply", "--yes")

    assert refused(run) == "provider 'nope' has no file providers/nope.yaml (known: local)"
    assert "applied   example.org: 7 change(s)" in run.out
    assert "failed    example.net\n" in run.out
    assert (tmp_path / ZONE_FILE).exists()
    assert not (tmp_path / "build/zones/example.net.zone").exists()


# -- a hand-edited state file ---------------------------------------------------------------


@pytest.fixture
def applied_with_state(tmp_path: Path) -> Path:
    """A repo whose state has s1 (active) and s2 (pending), applied to build/zones once."""
    write_spec(tmp_path, "example.org", basic_spec())
    save_state(
        tmp_path,
        DomainState(
            domain="example.org",
            selectors=[
                selector_state("s1", rsa_public_b64(2048, 0), "active"),
                selector_state("s2", rsa_public_b64(2048, 1), "pending"),
            ],
        ),
    )
    run = mailzone(tmp_path, "apply", "--yes")
    assert run.code == 0, run.out + run.err
    assert "s1._domainkey" in (tmp_path / ZONE_FILE).read_text()
    return tmp_path


def swap_first_public_key(text: str) -> str:
    first, second = re.findall(r"public_key: (\S+)", text)
    return text.replace(first, second, 1)


# each case: the hand edit, then the expected error given the edited text
STATE_EDITS = {
    "key_no_longer_matches_fingerprint": (
        swap_first_public_key,
        lambda text: (
            f"state/example.org.yaml:{line_of(text, '- selector: s1')}: selectors[0]: "
            "selector 's1': public_key does not match its fingerprint"
        ),
    ),
    "unknown_phase": (
        lambda text: text.replace("phase: pending", "phase: actve"),
        lambda text: (
            f"state/example.org.yaml:{line_of(text, 'phase: actve')}: "
            "selectors[1].phase: 'actve' is not one of pending, active, retiring, revoked, "
            "tombstone (did you mean 'active'?)"
        ),
    ),
    "two_active_rsa_selectors": (
        lambda text: text.replace("phase: pending", "phase: active"),
        # a check of the whole document: reported at its first key
        lambda text: (
            f"state/example.org.yaml:{line_of(text, 'version: 1')}: "
            "2 active rsa selectors (s1, s2); at most one"
        ),
    ),
}


@pytest.mark.parametrize("case", list(STATE_EDITS))
def test_hand_edited_state_is_refused_and_zone_file_kept(
    applied_with_state: Path, case: str
) -> None:
    root = applied_with_state
    edit, expected_for = STATE_EDITS[case]
    path = root / "state/example.org.yaml"
    path.write_text(edit(path.read_text()))
    expected = expected_for(path.read_text())
    before = files(root)

    for command in (("apply", "--yes"), ("plan",), ("records", "example.org")):
        run = mailzone(root, *command)
        assert refused(run) == expected, command
        assert run.err == f"error: {expected}\n"
    assert files(root) == before


# -- plan --exit-code -----------------------------------------------------------------------


def test_plan_exit_code_is_2_while_changes_pending_and_0_after_apply(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec())

    pending = mailzone(tmp_path, "plan", "--exit-code")
    assert (pending.code, pending.err) == (2, "")
    assert not (tmp_path / "build").exists()

    assert mailzone(tmp_path, "apply", "--yes").code == 0
    done = mailzone(tmp_path, "plan", "--exit-code")
    assert (done.code, done.err) == (0, "")
    assert "no changes" in done.out


def test_plan_exit_code_is_1_not_2_when_a_zone_fails(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec())
    write_spec(tmp_path, "example.net", basic_spec("example.net", provider="nope"))

    run = mailzone(tmp_path, "plan", "--exit-code")

    assert refused(run).startswith("provider 'nope' has no file")


# -- init -----------------------------------------------------------------------------------


def test_init_refuses_to_overwrite_an_existing_spec(tmp_path: Path) -> None:
    first = mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "192.0.2.1"
    )
    assert first.code == 0, first.err
    path = tmp_path / "zones/example.org.yaml"
    path.write_text(path.read_text() + "# edited by hand\n")
    before = files(tmp_path)

    run = mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "192.0.2.2"
    )

    assert refused(run).endswith(
        "zones/example.org.yaml exists and differs from what these options write; edit it, "
        "or replace it with init --force"
    )
    assert files(tmp_path) == before


def test_init_with_a_misspelt_dmarc_policy_says_which_was_meant(tmp_path: Path) -> None:
    run = mailzone(
        tmp_path,
        *("init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "192.0.2.1"),
        *("--dmarc-policy", "quarantaine"),
    )

    assert refused(run) == (
        "--dmarc-policy: 'quarantaine' is not one of none, quarantine, reject "
        "(did you mean 'quarantine'?)"
    )
    assert files(tmp_path) == {}


def test_init_with_a_misspelt_provider_fails_like_validate(tmp_path: Path) -> None:
    # given a repository with providers/bind.yaml
    (tmp_path / "providers").mkdir()
    (tmp_path / "providers/bind.yaml").write_text("class: octodns_bind.Rfc2136Provider\n")
    before = files(tmp_path)
    # when init names a provider that has no file
    run = mailzone(
        tmp_path,
        "init",
        "example.org",
        "--mail-host",
        "mail.example.org",
        "--ipv4",
        "192.0.2.1",
        "--provider",
        "bnd",
    )
    # then it fails with validate's message, did-you-mean included, and writes nothing
    expected = (
        "provider 'bnd' has no file providers/bnd.yaml (did you mean 'bind'? known: local, bind)"
    )
    assert refused(run) == expected
    assert files(tmp_path) == before
    write_spec(tmp_path, "example.org", basic_spec(provider="bnd"))
    assert f"zones/example.org.yaml:2: {expected}" in mailzone(tmp_path, "validate").errors


@pytest.mark.parametrize("force", [False, True])
def test_init_with_bad_ipv4_writes_nothing(tmp_path: Path, force: bool) -> None:
    if force:
        write_spec(tmp_path, "example.org", basic_spec())
    before = files(tmp_path)

    run = mailzone(
        tmp_path,
        "init",
        "example.org",
        "--mail-host",
        "mail.example.org",
        "--ipv4",
        "192.0.2.300",
        *(["--force"] if force else []),
    )

    assert "'192.0.2.300' is not an IPv4 address" in refused(run)
    assert files(tmp_path) == before


def test_init_bad_ipv4_error_names_the_option(tmp_path: Path) -> None:
    run = mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail.example.org", "--ipv4", "192.0.2.300"
    )

    assert refused(run) == "--ipv4: '192.0.2.300' is not an IPv4 address"


def test_init_with_bad_mail_host_writes_nothing(tmp_path: Path) -> None:
    run = mailzone(
        tmp_path, "init", "example.org", "--mail-host", "mail server", "--ipv4", "192.0.2.1"
    )

    assert refused(run) == "--mail-host: 'mail server' is not a host name: bad label 'mail server'"
    assert files(tmp_path) == {}


# -- validate -------------------------------------------------------------------------------


def test_validate_lists_every_error_across_files(tmp_path: Path) -> None:
    write_spec(
        tmp_path,
        "a.example",
        basic_spec("a.example", extra="dmarcc: {}\n").replace("192.0.2.25", "192.0.2.256"),
    )
    write_spec(tmp_path, "b.example", "domain: b.example\nhosts: [\n")
    write_spec(tmp_path, "c.example", basic_spec("c.example", provider="dns"))
    write_spec(tmp_path, "d.example", basic_spec("d.example"))
    write_provider(tmp_path, BIND_PROVIDER.replace("host:", "hots:"))
    save_state(
        tmp_path,
        DomainState(
            domain="e.example", selectors=[selector_state("s1", rsa_public_b64(), "active")]
        ),
    )
    state = tmp_path / "state/e.example.yaml"
    state.write_text(state.read_text().replace("phase: active", "phase: gone"))
    before = files(tmp_path)

    run = mailzone(tmp_path, "validate", env={SECRET_VAR: "c2VjcmV0LXZhbHVlLTEyMzQ="})

    assert run.code == 1
    assert run.out == ""
    assert run.err.splitlines() == [
        "error: zones/a.example.yaml:6: hosts[0].ipv4[0]: '192.0.2.256' is not an IPv4 address",
        "error: zones/a.example.yaml:11: unknown field 'dmarcc' (did you mean 'dmarc'?)",
        "error: zones/b.example.yaml:3: invalid YAML: did not find expected node content",
        f"error: state/e.example.yaml:{line_of(state.read_text(), 'phase: gone')}: "
        "selectors[0].phase: 'gone' is not one of pending, "
        "active, retiring, revoked, tombstone",
        "error: providers/dns.yaml:2: unknown option 'hots' for octodns_bind.Rfc2136Provider (did you mean 'host'?)",
    ]
    assert files(tmp_path) == before


def test_validate_exits_0_on_a_good_repository(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec())
    write_spec(tmp_path, "example.net", basic_spec("example.net", provider="dns"))
    write_provider(tmp_path, BIND_PROVIDER)

    run = mailzone(tmp_path, "validate", env={SECRET_VAR: "c2VjcmV0LXZhbHVlLTEyMzQ="})

    assert (run.code, run.err) == (0, "")
    assert run.out == "all specs, states and provider files are valid\n"


@pytest.mark.parametrize("used", [False, True])
def test_validate_warns_of_a_missing_secret_only_for_a_provider_in_use(
    tmp_path: Path, used: bool
) -> None:
    # given a provider file whose secret is not set here, used by a spec or by none
    write_spec(tmp_path, "example.org", basic_spec(provider="dns" if used else "local"))
    write_provider(tmp_path, BIND_PROVIDER)
    # when validate runs
    run = mailzone(tmp_path, "validate", unset=(SECRET_VAR,))
    # then the file is checked either way, and the secret is noted only where a spec needs it
    assert run.code == 0
    warning = (
        f"warning: providers/dns.yaml:6: key_secret: environment variable {SECRET_VAR} "
        "is not set here"
    )
    assert run.err.splitlines() == ([warning] if used else [])


def test_validate_still_finds_errors_in_a_provider_file_no_spec_uses(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec())
    write_provider(tmp_path, BIND_PROVIDER.replace("host:", "hots:"))

    run = mailzone(tmp_path, "validate", unset=(SECRET_VAR,))

    assert run.err.splitlines() == [
        "error: providers/dns.yaml:2: unknown option 'hots' for "
        "octodns_bind.Rfc2136Provider (did you mean 'host'?)"
    ]


def test_validate_reports_a_bad_state_once(applied_with_state: Path) -> None:
    path = applied_with_state / "state/example.org.yaml"
    path.write_text(path.read_text().replace("phase: pending", "phase: active"))

    run = mailzone(applied_with_state, "validate")

    assert run.err.splitlines() == [
        "error: state/example.org.yaml:2: 2 active rsa selectors (s1, s2); at most one"
    ]


def test_validate_suggests_the_provider_option(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec(provider="dns"))
    write_provider(tmp_path, BIND_PROVIDER.replace("host:", "hots:"))

    run = mailzone(tmp_path, "validate", env={SECRET_VAR: "c2VjcmV0LXZhbHVlLTEyMzQ="})

    assert run.err.splitlines() == [
        "error: providers/dns.yaml:2: unknown option 'hots' for "
        "octodns_bind.Rfc2136Provider (did you mean 'host'?)"
    ]


# -- records --------------------------------------------------------------------------------


def test_records_for_an_unknown_domain_is_one_error(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec())

    run = mailzone(tmp_path, "records", "example.com")

    assert refused(run).startswith("no spec for example.com in zones (known: ")
    assert run.out == ""


def test_records_for_an_unknown_domain_lists_the_known_ones(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec())

    run = mailzone(tmp_path, "records", "example.com")

    assert refused(run) == "no spec for example.com in zones (known: example.org)"


# -- how errors are shown -------------------------------------------------------------------


def test_zone_errors_reach_stderr(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec(provider="nope"))

    run = mailzone(tmp_path, "plan")

    assert "error: provider 'nope' has no file providers/nope.yaml (known: local)\n" in run.err


def test_error_text_with_brackets_is_printed_as_is(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec(provider="dns"))
    write_provider(tmp_path, BIND_PROVIDER.replace("octodns_bind.", '"octodns_nope[/x].'))
    path = tmp_path / "providers/dns.yaml"
    path.write_text(path.read_text().replace("Rfc2136Provider\n", 'Rfc2136Provider"\n', 1))

    run = mailzone(tmp_path, "plan")

    assert "class: 'octodns_nope[/x].Rfc2136Provider' is not a dotted" in refused(run)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("plan", "--bogus"), "No such option: --bogus"),
        (("init", "example.org"), "mail-host"),
        (("plan", "--jobs", "0"), "--jobs"),
    ],
)
def test_usage_error_is_a_message_not_a_traceback(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    run = mailzone(tmp_path, *args)

    assert run.code == 1
    assert expected in run.err
    assert files(tmp_path) == {}


# -- class: in a provider file ----------------------------------------------------------------


@pytest.mark.parametrize("command", ["validate", "plan"])
@pytest.mark.parametrize(
    ("class_path", "options"),
    [
        ("subprocess.Popen", 'args: ["touch", "PWNED"]\n'),
        ("subprocess.Popen", "shell: true\n"),
        ("octodns.processor.base.BaseProcessor", ""),  # octoDNS's, not a provider
    ],
)
def test_a_class_that_is_not_an_octodns_provider_is_refused_and_never_built(
    tmp_path: Path, command: str, class_path: str, options: str
) -> None:
    # given a pull request whose provider file names a class that runs a command when built
    write_spec(tmp_path, "example.org", basic_spec(provider="dns"))
    write_provider(tmp_path, f"class: {class_path}\n{options}")
    before = files(tmp_path)

    # when validate or plan reads it
    error = refused(mailzone(tmp_path, command))

    # then one line names the file, the line and class:, and nothing ran or changed
    assert error.startswith(f"providers/dns.yaml:1: class: '{class_path}' is not an octoDNS"), error
    assert not (tmp_path / "PWNED").exists()
    assert files(tmp_path) == before


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_a_control_character_in_a_value_is_shown_escaped_on_the_one_line(
    tmp_path: Path, command: str
) -> None:
    # given a provider name holding U+001E, which splits a line for str.splitlines()
    write_spec(tmp_path, "example.org", basic_spec(provider='"p\\x1eq\\tr"'))

    # when
    run = mailzone(tmp_path, command)

    # then the error is one line, the characters written as escapes
    assert run.code == 1, run.err
    assert run.err.splitlines() == [
        "error: zones/example.org.yaml:2: provider: 'p\\x1eq\\tr' is not a provider name "
        "(a file name in providers/ without .yaml)"
    ]


def test_validate_shows_a_missing_provider_file_at_the_spec_line_naming_it(
    tmp_path: Path,
) -> None:
    # given a spec whose provider has no file
    write_spec(tmp_path, "example.org", basic_spec(provider="q"))

    # when
    run = mailzone(tmp_path, "validate")

    # then the one error points at the spec's provider line
    assert refused(run) == (
        "zones/example.org.yaml:2: provider 'q' has no file providers/q.yaml (known: local)"
    )


def test_validate_shows_a_bad_provider_file_at_its_own_line(tmp_path: Path) -> None:
    # given a spec using a provider whose file has a bad mailzone section
    write_spec(tmp_path, "example.org", basic_spec(provider="dns"))
    write_provider(tmp_path, "class: octodns_bind.Rfc2136Provider\nmailzone:\n  nameservers: -1\n")

    # when
    run = mailzone(tmp_path, "validate")

    # then every error names the provider file, not the spec
    assert run.code == 1
    assert run.errors, run.err
    assert all(e.startswith("providers/dns.yaml:3: mailzone.nameservers") for e in run.errors)


def test_a_provider_name_too_long_for_a_file_name_is_one_line(tmp_path: Path) -> None:
    # given a spec, and a stale state, naming a provider of 300 characters
    long = "p" * 300
    write_spec(tmp_path, "example.org", basic_spec(provider=long))
    (tmp_path / "state").mkdir()
    (tmp_path / "state/example.net.yaml").write_text(
        f"version: 1\ndomain: example.net\nprovider: {long}\n"
    )

    # when
    run = mailzone(tmp_path, "validate")

    # then each file has its one line, no OSError (file name too long)
    assert run.code == 1
    assert run.errors == [
        "zones/example.org.yaml:2: provider: a name of 300 characters (at most 200)",
        "state/example.net.yaml:3: provider: a name of 300 characters (at most 200)",
    ]
