"""Provider files: the shipped examples build; env secrets and the mailzone section are handled."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mailzone.errors import ProviderError, SpecError
from mailzone.octo.providers import (
    build_provider,
    check_provider_file,
    creates_zones,
    load_provider_def,
    provider_class,
)
from mailzone.util.endpoint import parse_endpoint

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_bind_example_builds_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILZONE_TSIG_SECRET", "c2VjcmV0c2VjcmV0c2VjcmV0")
    monkeypatch.setenv("MAILZONE_BIND_PORT", "5300")
    provider = build_provider(load_provider_def(ROOT, "bind"))
    from octodns_bind import Rfc2136Provider

    assert isinstance(provider, Rfc2136Provider)  # mailzone's faster reader, same provider
    assert provider.port == 5300 and provider.key_secret == "c2VjcmV0c2VjcmV0c2VjcmV0"


def test_shipped_powerdns_example_keeps_a_numeric_api_key_a_string(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILZONE_PDNS_API_KEY", "12345")
    defn = load_provider_def(ROOT, "powerdns")
    provider = build_provider(defn)
    from octodns_powerdns import PowerDnsProvider

    assert isinstance(provider, PowerDnsProvider)  # with the pre-filter's reader
    assert defn.section.nameservers == []
    assert provider._sess.headers["X-API-Key"] == "12345"


def test_missing_secret_names_file_line_and_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILZONE_TSIG_SECRET", raising=False)
    with pytest.raises(ProviderError) as caught:
        build_provider(load_provider_def(ROOT, "bind"))
    assert str(caught.value).endswith(
        "providers/bind.yaml:8: key_secret: environment variable MAILZONE_TSIG_SECRET is not set"
    )


def test_local_needs_no_file(tmp_path: Path) -> None:
    defn = load_provider_def(tmp_path, "local")
    assert defn.options == {"directory": str(tmp_path / "build" / "zones")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5300", ("127.0.0.1", 5300)),
        ("[::1]:53", ("::1", 53)),
        ("ns1.example.net", ("ns1.example.net", 53)),
        ("2001:db8::53", ("2001:db8::53", 53)),
    ],
)
def test_nameserver_endpoints(text: str, expected: tuple[str, int]) -> None:
    assert parse_endpoint(text) == expected


def test_write_concurrency_defaults_and_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailzone.octo.providers import write_concurrency

    assert write_concurrency(load_provider_def(ROOT, "bind")) == 4
    assert (
        write_concurrency(load_provider_def(ROOT, "powerdns")) == 1
    )  # sqlite: "database is locked"
    assert write_concurrency(load_provider_def(tmp_path, "local")) == 4
    (tmp_path / "providers").mkdir()
    text = (
        (ROOT / "providers" / "powerdns.yaml")
        .read_text()
        .replace("  nameservers: []", "  write_concurrency: 8")
    )
    (tmp_path / "providers" / "pg.yaml").write_text(text)
    assert write_concurrency(load_provider_def(tmp_path, "pg")) == 8


def test_thresholds_default_to_half_the_zone_unless_the_provider_file_sets_them(
    tmp_path: Path,
) -> None:
    (tmp_path / "providers").mkdir()
    (tmp_path / "providers" / "strict.yaml").write_text(
        "class: mailzone.octo.local.LocalZoneFileProvider\nupdate_pcent_threshold: 0.2\n"
    )
    default = build_provider(load_provider_def(tmp_path, "local"))
    strict = build_provider(load_provider_def(tmp_path, "strict"))
    assert (default.update_pcent_threshold, default.delete_pcent_threshold) == (0.5, 0.5)
    assert (strict.update_pcent_threshold, strict.delete_pcent_threshold) == (0.2, 0.5)


def test_local_publishes_the_host_names_of_mailzone_nameservers_as_its_ns_set(
    tmp_path: Path,
) -> None:
    # given a provider file whose mailzone.nameservers mix names and where-to-ask addresses
    (tmp_path / "providers").mkdir()
    (tmp_path / "providers" / "local.yaml").write_text(
        "class: mailzone.octo.local.LocalZoneFileProvider\n"
        "mailzone:\n"
        "  nameservers: [ns1.example.net, 127.0.0.1:5300, 192.0.2.53, ns2.example.net:53]\n"
    )
    (tmp_path / "providers" / "own.yaml").write_text(
        "class: mailzone.octo.local.LocalZoneFileProvider\n"
        "nameservers: [ns.example.com]\n"
        "mailzone:\n"
        "  nameservers: [ns1.example.net]\n"
    )

    # when
    reused = build_provider(load_provider_def(tmp_path, "local"))
    own = build_provider(load_provider_def(tmp_path, "own"))

    # then only host names on port 53 can be NS names; the provider's own option wins
    assert reused.nameservers == ["ns1.example.net.", "ns2.example.net."]
    assert own.nameservers == ["ns.example.com."]


def _nameservers_file(root: Path, value: str) -> None:
    (root / "providers").mkdir()
    (root / "providers" / "dns.yaml").write_text(
        f"class: mailzone.octo.local.LocalZoneFileProvider\nmailzone:\n  nameservers: {value}\n"
    )


@pytest.mark.parametrize(
    "value", ["env/MAILZONE_NS", "[env/MAILZONE_NS]", "env/MAILZONE_NS/192.0.2.9"]
)
def test_nameservers_come_from_the_environment_as_a_comma_separated_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    # given a provider file whose nameservers are an environment variable (CI points them)
    _nameservers_file(tmp_path, value)
    monkeypatch.setenv("MAILZONE_NS", "127.0.0.1:5300, ns2.example.net")
    # when they are read, then the variable's list is used
    assert load_provider_def(tmp_path, "dns").nameservers() == [
        "127.0.0.1:5300",
        "ns2.example.net",
    ]


def test_nameservers_default_when_the_variable_is_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _nameservers_file(tmp_path, "[env/MAILZONE_NS/192.0.2.9:53, 192.0.2.10]")
    monkeypatch.delenv("MAILZONE_NS", raising=False)
    assert load_provider_def(tmp_path, "dns").nameservers() == ["192.0.2.9:53", "192.0.2.10"]


def test_unset_nameservers_variable_fails_at_use_naming_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a file that needs MAILZONE_NS, which is not set: loading it still works
    _nameservers_file(tmp_path, "env/MAILZONE_NS")
    monkeypatch.delenv("MAILZONE_NS", raising=False)
    defn = load_provider_def(tmp_path, "dns")
    # when the nameservers are needed, then one line names the file, the line and the variable
    with pytest.raises(ProviderError) as caught:
        defn.nameservers()
    assert str(caught.value).endswith(
        "providers/dns.yaml:3: mailzone.nameservers: environment variable MAILZONE_NS is not set "
        "(a comma-separated list of HOST or HOST:PORT)"
    )


def test_a_bad_nameserver_in_the_variable_names_file_and_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _nameservers_file(tmp_path, "env/MAILZONE_NS")
    monkeypatch.setenv("MAILZONE_NS", "127.0.0.1:99999")
    with pytest.raises(ProviderError) as caught:
        load_provider_def(tmp_path, "dns").nameservers()
    assert "providers/dns.yaml:3: mailzone.nameservers: MAILZONE_NS: " in str(caught.value)


def test_nameservers_as_a_plain_string_is_refused(tmp_path: Path) -> None:
    _nameservers_file(tmp_path, "192.0.2.1")
    with pytest.raises(Exception, match="env/VAR holding a comma-separated list"):
        load_provider_def(tmp_path, "dns")


# -- class: only octoDNS provider classes -----------------------------------------------------


@pytest.mark.parametrize(
    "class_path",
    [
        "subprocess.Popen",  # any importable class was built: a pull request ran a command
        "octodns.processor.base.BaseProcessor",  # octoDNS's, but not a provider
        "octodns.source.envvar.EnvVarSource",  # a source that is not a provider
    ],
)
def test_class_that_is_not_an_octodns_provider_is_refused_before_it_is_built(
    tmp_path: Path, class_path: str
) -> None:
    # given a provider file whose class: runs `touch PWNED` if anything constructs it
    name = "touch PWNED"  # Popen(name, shell=True) runs the provider's name as a command
    write_provider_file(tmp_path, name, f"class: {class_path}\nshell: true\ncwd: {tmp_path}\n")

    # when validate's check and the build that plan does read it
    with pytest.raises(ProviderError) as checked:
        check_provider_file(tmp_path, name)
    with pytest.raises(ProviderError) as built:
        build_provider(load_provider_def(tmp_path, name))

    # then both refuse it in one line naming the file, the line and class:, and nothing ran
    for caught in (checked, built):
        message = str(caught.value)
        assert "\n" not in message
        assert f"providers/{name}.yaml:1: class: '{class_path}'" in message, message
        assert "is not an octoDNS provider" in message
    time.sleep(0.2)  # a Popen started would have touched it by now
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    "class_path",
    [
        "mailzone.octo.local.LocalZoneFileProvider",
        "octodns_bind.Rfc2136Provider",
        "octodns_powerdns.PowerDnsProvider",
    ],
)
def test_octodns_provider_classes_are_accepted(tmp_path: Path, class_path: str) -> None:
    write_provider_file(tmp_path, "p", f"class: {class_path}\n")
    assert isinstance(provider_class(load_provider_def(tmp_path, "p")), type)


# -- mailzone.create_zones: only `local` creates zones unless the file says so ------------------


@pytest.mark.parametrize(
    ("name", "text", "creates"),
    [
        ("local", None, True),  # the built-in: writing a new zone file is what it is for
        ("files", "class: mailzone.octo.local.LocalZoneFileProvider\n", True),
        ("pdns", "class: octodns_powerdns.PowerDnsProvider\n", False),
        (
            "pdns",
            "class: octodns_powerdns.PowerDnsProvider\nmailzone: {create_zones: true}\n",
            True,
        ),
    ],
)
def test_only_local_or_create_zones_true_creates_zones(
    tmp_path: Path, name: str, text: str | None, creates: bool
) -> None:
    if text is not None:
        write_provider_file(tmp_path, name, text)
    assert creates_zones(load_provider_def(tmp_path, name)) is creates


@pytest.mark.parametrize("class_path", [".X", "..", "a..B", "X.", "os.path .X", "1a.B"])
def test_a_class_path_that_is_not_dotted_names_is_one_line_before_any_import(
    tmp_path: Path, class_path: str
) -> None:
    write_provider_file(tmp_path, "p", f'class: "{class_path}"\n')
    with pytest.raises(SpecError) as caught:
        check_provider_file(tmp_path, "p")
    assert f"p.yaml:1: class: {class_path!r} is not a dotted class path" in str(caught.value)


def write_provider_file(root: Path, name: str, text: str) -> None:
    path = root / "providers" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """GitHub Actions passes a secret that is not set (or any secret, to a fork's pull request)
    as an empty string: the default applies, and a variable without one is named as not set."""
    monkeypatch.setenv("MAILZONE_PDNS_API_KEY", "")
    monkeypatch.setenv("MAILZONE_PDNS_HOST", "")
    defn = load_provider_def(ROOT, "powerdns")
    with pytest.raises(
        ProviderError, match="api_key: environment variable MAILZONE_PDNS_API_KEY is not set"
    ):
        build_provider(defn)
    assert any(
        "MAILZONE_PDNS_API_KEY is not set here" in note
        for note in check_provider_file(ROOT, "powerdns")[1]
    )
    monkeypatch.setenv("MAILZONE_PDNS_API_KEY", "12345")
    assert build_provider(defn).host == "127.0.0.1"
