"""The hostile-input matrix (issue 11): every bad repository in CASES, through the real CLI, against
one real BIND and one real PowerDNS. Each run exits as expected with ONE `error: ` line naming
the file (and line) and no traceback, and leaves the server (AXFR / API) and every file of the
test (repository, build/, key directory) exactly as they were.

Adding a case is one entry in CASES: its name, how to turn the good repository into the bad
one, the commands to run, where the error points and a fragment of its message. The commands of a
case are the fewest that prove it: input refused while loading is refused the same way by every
command that loads it (`validate`, `plan`, `apply` share the loader), so a case names `apply
--yes` (the one that writes) and adds another command only where that one reads the input by a
path of its own (`validate` collects errors instead of stopping; `rotate` and `forget` load
states themselves).

What is not a bad file has a test of its own, on the same real servers: racing runs and the
repository lock (tests/integration/test_lock.py), planted keys (tests/cli/test_planted_keys.py),
a forged `_mailzone` registry (tests/integration/test_forget.py), zones missing on a target
(tests/integration/test_missing_zone.py), and generated YAML (tests/hostile/test_yaml_property.py)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from mailzone.repo.state import save_state
from mailzone.spec import dkim_key
from mailzone.spec.state import DomainState, SelectorState
from mailzone.spec.yamlfile import MAX_BYTES, MAX_NODES
from tests.check_zones import zone_transfer
from tests.cli import mailzone, write_provider
from tests.cli.test_cli_errors import PROVIDER_CASES, SECRET_VAR, SPEC_CASES, STATE_EDITS
from tests.cli.test_confirm import REFUSAL
from tests.foreign import FOREIGN, add_foreign
from tests.helpers import basic_spec, rsa_public_b64, write_spec
from tests.servers import BindServer, DnsServer, PowerDnsServer, find_binary, not_installed
from tests.unit.test_yaml_limits import LAUGHS

pytestmark = pytest.mark.integration

ZONES = ("example.org.", "example.net.")
PROVIDER = "dns"  # providers/dns.yaml, the name the imported PROVIDER_CASES messages use
SPEC = "zones/example.org.yaml"
STATE = "state/example.org.yaml"
PROVIDER_FILE = f"providers/{PROVIDER}.yaml"
APPLY = ("apply", "--yes")
MISSING_VAR = "MAILZONE_HOSTILE_SECRET"
FORGET = ("forget", "example.org", "--delete-records", "--yes")
# a state is read by apply's loader, and by rotate (which writes keys and the state) and forget
# (which deletes records) on paths of their own
STATE_COMMANDS = (APPLY, ("rotate",), FORGET)
# an emergency rotation writes a new key and the state before it publishes through the provider
EMERGENCY = ("rotate", "--emergency", "example.org", "--apply", "--wait", "0")


# -- the good repository and the servers -----------------------------------------------------


@dataclass(frozen=True)
class Site:
    """A started server and the good repository that applied example.org to it."""

    server: DnsServer
    repo: Path


def _selector(name: str, seed: int, phase: str) -> SelectorState:
    key = dkim_key.parse_public_key(rsa_public_b64(2048, seed))
    return SelectorState.of_key(name, key, phase, datetime(2026, 1, 1, tzinfo=UTC))


def good_repository(root: Path, server: DnsServer) -> Path:
    """example.org on `server` with DKIM selectors s1 (active) and s2 (pending), applied."""
    # rotate asks the server itself whether a selector is served, never a resolver off the host
    own = {"nameservers": [f"{server.host}:{server.port}"]}
    write_provider(root, PROVIDER, {**server.provider_config(), "mailzone": own})
    write_spec(root, "example.org", basic_spec(provider=PROVIDER))
    selectors = [_selector("s1", 0, "active"), _selector("s2", 1, "pending")]
    save_state(root, DomainState(domain="example.org", selectors=selectors))
    applied = mailzone(root, *APPLY)
    assert applied.code == 0, applied.out + applied.err
    return root


@pytest.fixture(scope="module", params=["bind", "powerdns"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """Each server in turn (ids `bind`, `powerdns`) serving example.org and example.net, with
    example.org applied by a good repository beside records someone else made."""
    server_class: type[DnsServer] = {"bind": BindServer, "powerdns": PowerDnsServer}[request.param]
    if find_binary(server_class.binary) is None:
        not_installed(f"{server_class.binary} is not installed (needed for the hostile matrix)")
    server = server_class().start(ZONES)
    try:
        # not s1._domainkey's CNAME: the state's selectors are s1 and s2, as STATE_EDITS expect
        add_foreign(server, [record for record in FOREIGN if record[0] != "s1._domainkey"])
        root = tmp_path_factory.mktemp(f"good-{request.param}") / "repo"
        site = Site(server, good_repository(root, server))
        content = "\n".join(served(server))
        assert "google-site-verification=abc123" in content and "s2._domainkey" in content
        yield site
    finally:
        server.stop()


# -- what "unchanged" means ------------------------------------------------------------------


def served(server: DnsServer) -> list[str]:
    """Everything the server holds for its zones, sorted: BIND by AXFR, PowerDNS by its API."""
    if isinstance(server, BindServer):
        return sorted(
            line
            for zone in ZONES
            for line in zone_transfer(server, zone).to_text(relativize=False).splitlines()
        )
    assert isinstance(server, PowerDnsServer)
    headers = {"X-API-Key": server.api_key}

    def get(path: str) -> Any:
        response = requests.get(f"{server.api_url}{path}", headers=headers, timeout=10)
        response.raise_for_status()
        return response.json()

    lines = []
    for zone in sorted(get("/zones"), key=lambda z: z["id"]):
        lines.append(f"zone {zone['id']} serial {zone['serial']}")
        for rrset in get(f"/zones/{zone['id']}")["rrsets"]:
            contents = sorted(r["content"] for r in rrset["records"])
            lines.append(f"{rrset['name']} {rrset['type']} {rrset['ttl']} {contents}")
    return sorted(lines)


def file_hashes(top: Path) -> dict[str, str]:
    """Every file (a digest), directory and symlink under `top`: the test's repository, its
    build/, the key directory and the data directory."""

    def what(path: Path) -> str:
        if path.is_symlink():
            return f"-> {path.readlink()}"
        if path.is_dir():
            return "dir"
        if not path.is_file():  # a FIFO: reading it would block
            return "special"
        return hashlib.sha256(path.read_bytes()).hexdigest()

    return {str(path.relative_to(top)): what(path) for path in sorted(top.rglob("*"))}


# -- the bad repositories --------------------------------------------------------------------


Make = Callable[[Path, DnsServer], None]


@dataclass(frozen=True)
class Case:
    """One bad repository: `make` edits a copy of the good one (given the server under test),
    then each of `commands` runs (once per `stdin`) and must exit `code` with ONE `error: `
    line starting with `where` and containing `fragment` (or what it returns given the bad
    repository). `lineless`: the error names a file but no line."""

    name: str
    make: Make
    commands: tuple[tuple[str, ...], ...]
    where: str
    fragment: str | Callable[[Path], str]
    code: int = 1
    stdin: tuple[str | None, ...] = (None,)
    unset: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    lineless: bool = False
    xfail: str = ""  # why input that must be refused is not yet (a strict xfail until fixed)

    def param(self) -> Any:
        """This case as a pytest parameter, with its id and xfail mark."""
        marks = [pytest.mark.xfail(strict=True, reason=self.xfail)] if self.xfail else []
        return pytest.param(self, id=self.name, marks=marks)


def write(relative: str, text: str) -> Make:
    """Replace one file of the repository with `text`."""

    def make(root: Path, server: DnsServer) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    return make


def edit(relative: str, change: Callable[[str], str]) -> Make:
    """Rewrite one file of the repository through `change`."""

    def make(root: Path, server: DnsServer) -> None:
        path = root / relative
        path.write_text(change(path.read_text()))

    return make


def spec_with(extra: str = "", old: str = "", new: str = "") -> Make:
    """The good spec with `extra` appended and `old` replaced by `new`."""
    return write(SPEC, basic_spec(provider=PROVIDER, extra=extra).replace(old, new))


def provider_class(name: str, options: str = "") -> Make:
    """A provider file naming `name` as its class, with `options` (YAML lines)."""
    return write(PROVIDER_FILE, f"class: {name}\n{options}")


def secret_from_env(root: Path, server: DnsServer) -> None:
    """The provider file takes its secret from an environment variable that is not set."""
    config = server.provider_config()
    key = "key_secret" if isinstance(server, BindServer) else "api_key"
    write_provider(root, PROVIDER, {**config, key: f"env/{MISSING_VAR}"})


def pending_edit(root: Path, server: DnsServer) -> None:
    """A spec edit, so that apply has something to confirm."""
    spec_with(old="192.0.2.25", new="192.0.2.26")(root, server)


PWNED = Path("/tmp/mailzone-hostile-PWNED")  # what the Popen provider would touch if built
IP4_5000 = "spf:\n  ip4:" + "".join(f"\n    - 10.0.{i // 256}.{i % 256}" for i in range(5000))


OUTSIDE_SECRET = "mailzone-hostile-SECRET-7f3a"  # in a file beside the repository: never shown


def outside(root: Path) -> Path:
    """A folder beside the repository (inside the test's snapshot) holding a file that is not a
    mailzone file: `secret.yaml`, whose text must never be quoted."""
    folder = root.parent / "outside"
    folder.mkdir(exist_ok=True)
    (folder / "secret.yaml").write_text(f"{OUTSIDE_SECRET}: [\n")
    return folder


def link_out(relative: str) -> Make:
    """Replace one file of the repository with a symlink to the file outside it."""

    def make(root: Path, server: DnsServer) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        path.symlink_to(outside(root) / "secret.yaml")

    return make


def folder_out(relative: str) -> Make:
    """Move a folder mailzone writes into (`state`, `build`) outside, leaving a symlink."""

    def make(root: Path, server: DnsServer) -> None:
        target = outside(root) / relative
        if (root / relative).exists():
            shutil.move(root / relative, target)
        else:
            target.mkdir()
        (root / relative).symlink_to(target)

    return make


def fifo(relative: str) -> Make:
    """Replace one file with a FIFO: reading it would block for ever."""

    def make(root: Path, server: DnsServer) -> None:
        (root / relative).unlink()
        os.mkfifo(root / relative)

    return make


def key_file_outside(root: Path, server: DnsServer) -> None:
    """An imported selector whose public key file is a file outside the repository."""
    outside(root)
    extra = "dkim:\n  import:\n    - selector: x1\n      public_key_file: ../outside/secret.yaml\n"
    spec_with(extra)(root, server)


def module_in_repository(root: Path, server: DnsServer) -> None:
    """A provider class from a module the pull request added (importing it runs its code)."""
    (root / "evil.py").write_text(f"open({str(PWNED)!r}, 'w').write('ran')\n")
    provider_class("evil.Provider")(root, server)


def imported_spec(name: str) -> Case:
    """A case of tests/cli/test_cli_errors.py SPEC_CASES, on the provider under test."""
    body, expected = SPEC_CASES[name]
    where, _, fragment = expected.partition(": ")
    make = write(SPEC, body.replace("provider: local", f"provider: {PROVIDER}"))
    return Case(f"spec_{name}", make, (APPLY,), f"{where}: ", fragment)


def imported_provider(name: str) -> Case:
    """A case of PROVIDER_CASES: its provider file (a BIND target on port 9) in place of ours."""
    text, expected = PROVIDER_CASES[name]
    where, _, fragment = expected.partition(": ")
    env = {SECRET_VAR: "c2VjcmV0LXZhbHVlLTEyMzQ="}
    make = write(PROVIDER_FILE, text)
    return Case(f"provider_{name}", make, (APPLY, EMERGENCY), f"{where}: ", fragment, env=env)


def imported_state(name: str) -> Case:
    """A hand edit of STATE_EDITS; the expected message's line depends on the edited text."""
    change, expected_for = STATE_EDITS[name]

    def expected(root: Path) -> str:
        return str(expected_for((root / STATE).read_text()))

    # the loader's caps already go through all of STATE_COMMANDS; a value refused by the model
    # needs only apply and the most destructive reader, forget --delete-records
    return Case(f"state_{name}", edit(STATE, change), (APPLY, FORGET), f"{STATE}:", expected)


CASES = [
    # the loader's caps (spec and state share it; validate collects errors its own way)
    Case(
        "spec_billion_laughs",
        write(SPEC, LAUGHS),
        (("validate",), APPLY),
        f"{SPEC}:1: ",
        "YAML anchor '&a' is not allowed",
    ),
    Case(
        "state_billion_laughs",
        write(STATE, LAUGHS),
        STATE_COMMANDS,
        f"{STATE}:1: ",
        "YAML anchor '&a' is not allowed",
    ),
    Case(
        "spec_over_1_mib",
        spec_with("# " + "x" * MAX_BYTES + "\n"),
        (APPLY,),
        f"{SPEC}: ",
        "1 MiB",
        lineless=True,
    ),
    Case(
        "spec_over_10000_nodes",
        spec_with("x: [" + ", ".join(["1"] * MAX_NODES) + "]\n"),
        (APPLY,),
        f"{SPEC}:11: ",
        f"{MAX_NODES:,}",
    ),
    Case(
        "spec_merge_key",
        spec_with(old="  policy: none", new="  <<: {policy: none}"),
        (APPLY,),
        f"{SPEC}:9: ",
        "merge key",
    ),
    Case(
        "spec_anchor_and_alias",
        spec_with(old="ipv4: [192.0.2.25]\n", new="ipv4: &a [192.0.2.25]\n    ipv6: *a\n"),
        (APPLY,),
        f"{SPEC}:6: ",
        "anchor",
    ),
    Case(
        "spec_alias",
        spec_with(old="ipv6: [", new="ipv6: *a\n    x: ["),
        (APPLY,),
        f"{SPEC}:7: ",
        "alias",
    ),
    Case(
        "spec_nul_byte",
        spec_with("x: \x00\n"),
        (APPLY,),
        f"{SPEC}:11: ",
        "invalid YAML: unacceptable character #x0000",
    ),
    Case(
        "spec_key_not_text",
        spec_with(old="  policy: none", new="  policy: none\n  1: reject"),
        (APPLY,),
        f"{SPEC}:10: ",
        "dmarc: key '1' is not text",
    ),
    Case(
        "spec_python_tag",
        spec_with(old="ttl: 300", new=f"ttl: !!python/object/apply:os.system ['touch {PWNED}']"),
        (APPLY,),
        f"{SPEC}:3: ",
        "invalid YAML: could not determine a constructor for the tag",
    ),
    Case(
        "spec_domain_is_a_path",
        spec_with(old="domain: example.org", new="domain: ../../etc/passwd"),
        (APPLY,),
        f"{SPEC}:1: ",
        "domain: '../../etc/passwd' is not a domain name",
    ),
    Case(
        "spf_5000_ip4_entries",
        spec_with(IP4_5000 + "\n"),
        (APPLY,),
        f"{SPEC}:12: ",
        "spf.ip4: the SPF record example.org would be ",
    ),
    # values
    Case(
        "state_version_99",
        edit(STATE, lambda t: t.replace("version: 1", "version: 99")),
        STATE_COMMANDS,
        f"{STATE}:",
        "version: 99 is not one of 1",
    ),
    Case(
        "spec_misspelt_dmarc_policy",
        spec_with(old="policy: none", new="policy: quarantaine"),
        (APPLY,),
        f"{SPEC}:9: ",
        "dmarc.policy: 'quarantaine' is not one of none, quarantine, reject "
        "(did you mean 'quarantine'?)",
    ),
    Case(
        "mta_sts_cname_to_an_ip_address",  # the rest is in test_yaml_property.py's FIELD_CASES
        spec_with("mta_sts:\n  mode: testing\n  host: {cname: 192.0.2.80.}\n"),
        (APPLY,),
        f"{SPEC}:13: ",
        "mta_sts.host.cname: '192.0.2.80' is an IP address",
    ),
    Case(
        "tls_rpt_10k_character_uri",
        spec_with(f'tls_rpt:\n  rua: ["https://example.org/{"a" * 10_000}"]\n'),
        (APPLY,),
        f"{SPEC}:12: ",
        "tls_rpt.rua: the TXT record _smtp._tls.example.org would be 10,076 octets",
    ),
    *(
        imported_spec(name)
        for name in (
            "malformed_yaml",
            "duplicate_key",
            "unknown_top_level_field",
            "unknown_nested_field",
            "bad_ipv4",
            "duplicate_selector",
        )
    ),
    *(imported_state(name) for name in STATE_EDITS),
    Case(
        "state_selector_is_a_path",  # the key store names key files after selectors
        edit(STATE, lambda t: t.replace("selector: s1", "selector: ../../../etc/x")),
        STATE_COMMANDS,
        f"{STATE}:",
        "selectors[0].selector: '../../../etc/x' is not a valid DKIM selector",
    ),
    # provider files: never built unless they name an octoDNS provider
    Case(
        "provider_popen_shell",
        provider_class("subprocess.Popen", f"shell: true\nargs: touch {PWNED}\n"),
        (("validate",), ("plan",), APPLY, EMERGENCY),  # code would run: every command that builds
        f"{PROVIDER_FILE}:1: ",
        "class: 'subprocess.Popen' is not an octoDNS",
    ),
    Case(
        "provider_builtins_dict",
        provider_class("builtins.dict"),
        (APPLY,),
        f"{PROVIDER_FILE}:1: ",
        "class: 'builtins.dict' is not an octoDNS",
    ),
    Case(
        "provider_relative_class",
        provider_class(".octodns_bind.Rfc2136Provider"),
        (("validate",), APPLY),  # validate imports the class on a path of its own
        f"{PROVIDER_FILE}:1: ",
        "class: '.octodns_bind.Rfc2136Provider' is not a dotted class path",
    ),
    Case(
        "provider_missing_env_secret",
        secret_from_env,
        (APPLY, EMERGENCY),
        PROVIDER_FILE,
        f"environment variable {MISSING_VAR} is not set",
        unset=(MISSING_VAR,),
    ),
    *(imported_provider(name) for name in ("bad_module", "unknown_option", "bad_nameserver")),
    # files leading outside the repository: never read, written or quoted
    Case(
        "spec_symlink_outside",
        link_out(SPEC),
        (("validate",), APPLY),
        f"{SPEC}: ",
        "a symlink to a file outside the repository",
        lineless=True,
    ),
    Case(
        "state_symlink_outside",
        link_out(STATE),
        STATE_COMMANDS,
        f"{STATE}: ",
        "a symlink to a file outside the repository",
        lineless=True,
    ),
    Case(
        "provider_symlink_outside",
        link_out(PROVIDER_FILE),
        (("validate",), APPLY, EMERGENCY),
        f"{PROVIDER_FILE}: ",
        "a symlink to a file outside the repository",
        lineless=True,
    ),
    Case(
        "state_folder_outside",
        folder_out("state"),
        (APPLY, ("rotate",)),
        "state/: ",
        "outside the repository; mailzone writes only inside it",
        lineless=True,
    ),
    Case(
        "build_folder_outside",
        folder_out("build"),
        (APPLY,),
        "build/",
        "outside the repository; mailzone writes only inside it",
        lineless=True,
    ),
    Case(
        "spec_is_a_fifo",
        fifo(SPEC),
        (("validate",), APPLY),
        f"{SPEC}: ",
        "not a regular file (a FIFO)",
        lineless=True,
    ),
    Case(
        "public_key_file_outside",
        key_file_outside,
        (("validate",), APPLY),
        f"{SPEC}:14: ",
        "public_key_file",
    ),
    Case(
        "provider_class_from_the_repository",
        module_in_repository,
        (("validate",), ("plan",), APPLY, EMERGENCY),  # importing it would run code
        f"{PROVIDER_FILE}:1: ",
        "class: 'evil' would be imported from inside the repository",
    ),
    Case(
        "provider_folder_outside",  # octoDNS's YamlProvider would write /etc/example.org.yaml
        provider_class("octodns.provider.yaml.YamlProvider", "directory: /etc\n"),
        (("validate",), APPLY),
        f"{PROVIDER_FILE}:2: ",
        "directory: '/etc' is outside the repository",
    ),
    # servers: a zone the target does not have is not created there
    Case(
        "zone_missing_on_the_server",
        write("zones/example.com.yaml", basic_spec("example.com", provider=PROVIDER)),
        (("plan",), APPLY),
        "example.com: ",
        f"zone example.com does not exist on provider '{PROVIDER}'; create it there, "
        "or set mailzone: create_zones: true",
    ),
    # no terminal to confirm on, no --yes: an answer piped in is not consent
    Case("apply_without_yes", pending_edit, (("apply",),), "", REFUSAL, stdin=(None, "y\n")),
    Case(
        "forget_delete_records_without_yes",
        lambda root, server: None,
        (("forget", "example.org", "--delete-records", "--force"),),
        "",
        REFUSAL,
        stdin=("y\n", ""),
    ),
]


@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_hostile_input_is_one_error_line_and_changes_nothing(
    site: Site, case: Case, tmp_path: Path
) -> None:
    # given a copy of the good repository, made bad
    root = tmp_path / "repo"
    shutil.copytree(site.repo, root, symlinks=True)
    case.make(root, site.server)
    dns_before, files_before = served(site.server), file_hashes(tmp_path)
    fragment = case.fragment(root) if callable(case.fragment) else case.fragment

    for command in case.commands:
        for stdin in case.stdin:
            # when the command runs on it
            run = mailzone(root, *command, stdin=stdin, env=case.env, unset=case.unset)

            # then one error line says where and what, and nothing changed anywhere
            said = f"{command} stdin={stdin!r}: {run.out}{run.err}"
            assert run.code == case.code, said
            lines = run.err.splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), said
            error = lines[0].removeprefix("error: ")
            assert error.startswith(case.where) and fragment in error, said
            if error.startswith(("zones/", "state/", "providers/")) and not case.lineless:
                assert re.match(r"^[a-z]+/[^:]+:\d+: ", error), said
            assert "Traceback" not in run.out + run.err
            assert OUTSIDE_SECRET not in run.out + run.err, said
            assert served(site.server) == dns_before, said
            assert file_hashes(tmp_path) == files_before, said
    assert not PWNED.exists()
