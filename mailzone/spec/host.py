"""The mail host's own settings (`/etc/mailzone/host.yaml` or `--host-config`).

Only the machine that signs mail needs one: where its private keys live and who may read them,
which MTA signs and where its configuration goes, how to reload it, and where to ask DNS when the
providers' `nameservers` are not reachable from here. Without a file (or without `key_dir`), keys go
to the default key directory (`default_key_dir`: outside the repository and its build output, which
`rm -rf build` or `git clean -fdx` would delete) and no MTA configuration is written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, PrivateAttr, field_validator, model_validator

from mailzone.spec.types import DomainName
from mailzone.spec.yamlfile import load_yaml, validate
from mailzone.spec.zone import Strict
from mailzone.util.endpoint import parse_endpoint

DEFAULT_PATH = Path("/etc/mailzone/host.yaml")


def _endpoint(value: str) -> str:
    parse_endpoint(value)  # ValueError names it
    return value


Endpoint = Annotated[str, AfterValidator(_endpoint)]
ENV_VAR = "MAILZONE_HOST_CONFIG"
KEY_DIR_VAR = "MAILZONE_KEY_DIR"
ROOT_KEY_DIR = Path("/var/lib/mailzone/keys")
LEGACY_KEY_DIR = Path("build") / "keys"  # the old default, which `rm -rf build` deleted


def default_key_dir() -> Path:
    """Where keys go when no host config sets `key_dir`: `$MAILZONE_KEY_DIR`, else
    `/var/lib/mailzone/keys` for root, else `$XDG_DATA_HOME/mailzone/keys` (by default
    `~/.local/share/mailzone/keys`). Never inside a checkout or its `build/`."""
    given = os.environ.get(KEY_DIR_VAR)
    if given:
        return Path(given).absolute()
    if os.geteuid() == 0:
        return ROOT_KEY_DIR
    data = os.environ.get("XDG_DATA_HOME", "")
    base = Path(data) if data and Path(data).is_absolute() else Path.home() / ".local" / "share"
    return base / "mailzone" / "keys"


def argv_lists(value: object) -> object:
    """Commands as argv lists (no shell): one list of words is one command; a string or a
    non-text word is refused, with the fix."""
    if isinstance(value, str):
        words = ", ".join(value.split())
        raise ValueError(f"a command is a list of words (no shell), e.g. [{words}]")
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return [value]  # a single argv list
    if isinstance(value, list):
        for item in value:
            for word in item if isinstance(item, list) else [item]:
                if not isinstance(word, str):
                    shown = str(word).lower() if isinstance(word, bool) else str(word)
                    kind = (
                        "a boolean"
                        if isinstance(word, bool)
                        else "a number"
                        if isinstance(word, int | float)
                        else "not text"
                    )
                    raise ValueError(
                        f"{shown!r} is not a word of a command: quote it (YAML reads it as {kind})"
                    )
    return value


def some_program(value: list[list[str]]) -> list[list[str]]:
    """Each command names a program."""
    if any(not argv or not argv[0] for argv in value):
        raise ValueError("each reload command needs at least a program")
    return value


def known_group(value: str | None) -> str | None:
    """A group that exists on this host."""
    import grp

    if value is not None:
        try:
            grp.getgrnam(value)
        except KeyError:
            raise ValueError(f"no group '{value}' on this host") from None
    return value


class Mta(Strict):
    """Which MTA signs, and where its DKIM configuration goes."""

    kind: Literal["none", "exim", "opendkim", "rspamd"] = Field(
        "none",
        description="none: mailzone writes no MTA configuration (print it with `mailzone mta`).",
    )
    macros_file: str = Field(
        "/etc/exim4/exim4.conf.localmacros",
        description="exim: the file whose marked block holds the DKIM_* macros "
        "(`/etc/exim4/conf.d/main/00_mailzone_dkim` with a split config).",
    )
    lookup_file: str = Field(
        "/etc/exim4/mailzone-dkim-selectors",
        description="exim: the per-domain selector lookup file (read by Exim at each message).",
    )
    strict: bool = Field(
        True, description="exim: DKIM_STRICT = 1 (defer rather than send unsigned)."
    )
    algorithm: Literal["rsa", "ed25519"] = Field(
        "rsa", description="opendkim: the one algorithm this instance signs with."
    )
    key_table: str | None = Field(
        None, description="opendkim: KeyTable path (default under /etc/opendkim)."
    )
    signing_table: str | None = Field(None, description="opendkim: SigningTable path.")
    config_file: str | None = Field(
        None,
        description="opendkim: opendkim.conf to hold the marked block (default: not touched); "
        "rspamd: default /etc/rspamd/local.d/dkim_signing.conf.",
    )
    reload: list[list[str]] = Field(
        default_factory=list,
        description="Commands (argv lists, no shell) run after the signing selectors change, "
        "e.g. `[[update-exim4.conf], [systemctl, reload, exim4]]`.",
    )

    _reload_argv = field_validator("reload", mode="before")(lambda cls, v: argv_lists(v))
    _reload_program = field_validator("reload")(lambda cls, v: some_program(v))


class Tls(Strict):
    """Where the MTA reads its TLS certificate and key (`mailzone tlsa deploy-hook` installs
    certbot's new ones there), and how to make it load them."""

    cert: str = Field(
        description="The MTA's certificate file; the hook writes certbot's fullchain.pem here."
    )
    key: str = Field(description="The MTA's private key file (mode 0600, or 0640 with group).")
    group: str | None = Field(
        None, description="Group that may read the key (mode 0640), e.g. `Debian-exim`."
    )
    reload: list[list[str]] = Field(
        default_factory=list,
        description="Commands (argv lists, no shell) that make the MTA load the new files, "
        "e.g. `[[systemctl, reload, exim4]]`.",
    )

    _group = field_validator("group")(lambda cls, v: known_group(v))

    @model_validator(mode="after")
    def _two_files(self) -> Tls:
        if os.path.normpath(self.cert) == os.path.normpath(self.key):
            raise ValueError("cert and key must be two files (the hook writes both)")
        return self

    _reload_argv = field_validator("reload", mode="before")(lambda cls, v: argv_lists(v))
    _reload_program = field_validator("reload")(lambda cls, v: some_program(v))


class HostConfig(Strict):
    """`/etc/mailzone/host.yaml`."""

    key_dir: str | None = Field(
        None,
        description="Private keys, one `<domain>.<selector>.pem` each; a relative path is "
        "relative to this file. Default: `$MAILZONE_KEY_DIR`, else `/var/lib/mailzone/keys` as "
        "root, else `$XDG_DATA_HOME/mailzone/keys` (`~/.local/share/mailzone/keys`).",
    )
    key_group: str | None = Field(
        None, description="Group that may read the keys (0640, directory 0750), e.g. `Debian-exim`."
    )
    archive_dir: str | None = Field(
        None, description="Move forgotten keys here instead of deleting them."
    )
    domains: list[DomainName] = Field(
        default_factory=list, description="Domains this host signs for; default: every spec."
    )
    mta: Mta = Field(default_factory=Mta, description="The MTA (see mta.*).")
    nameservers: dict[DomainName, list[Endpoint]] = Field(
        default_factory=dict,
        description="Per zone: the authoritative servers to ask from this host (`IP[:PORT]`), "
        "overriding the provider's `nameservers`.",
    )
    tls: Tls | None = Field(
        None, description="DANE: the MTA's certificate and key files (see tls.*)."
    )
    _base: Path = PrivateAttr(default_factory=Path.cwd)  # where relative paths start

    _key_group = field_validator("key_group")(lambda cls, v: known_group(v))

    @field_validator("nameservers")
    @classmethod
    def _some_server(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for zone, servers in value.items():
            if not servers:
                raise ValueError(f"{zone}: give at least one server, or leave the zone out")
        return value

    def path(self, value: str) -> Path:
        """A configured path, made absolute against the config file's directory."""
        path = Path(value)
        return path if path.is_absolute() else (self._base / path).absolute()

    @property
    def key_path(self) -> Path:
        """The key directory as an absolute path (`default_key_dir()` when not set)."""
        return self.path(self.key_dir) if self.key_dir else default_key_dir()

    @property
    def legacy_key_path(self) -> Path:
        """Where keys went by default before (`build/keys` under the repository, or under the
        host config's directory): the keys found there should move to `key_path`."""
        return self._base / LEGACY_KEY_DIR

    def signs_for(self, domain: str) -> bool:
        """Whether this host signs mail of `domain`."""
        return not self.domains or domain in self.domains


def host_config_path(given: Path | None) -> Path | None:
    """`--host-config`, else $MAILZONE_HOST_CONFIG, else /etc/mailzone/host.yaml if it exists."""
    if given is not None:
        return given
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return DEFAULT_PATH if DEFAULT_PATH.exists() else None


def load_host_config(given: Path | None, root: Path) -> HostConfig:
    """The host config; without a file, relative paths start at `root`."""
    path = host_config_path(given)
    if path is None:
        config = HostConfig()
        config._base = root
        return config
    doc = load_yaml(path)
    if doc.data is None:
        doc.data = {}
    config = validate(HostConfig, doc)
    config._base = path.parent
    return config
