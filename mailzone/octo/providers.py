"""`providers/<name>.yaml`: an octoDNS provider block, plus a mailzone-only section.

    class: octodns_bind.Rfc2136Provider     # any installed octoDNS provider, by class path
    host: 127.0.0.1
    key_secret: env/TSIG_SECRET              # secrets come from the environment
    mailzone:                                # read by mailzone, never passed to octoDNS
      nameservers: [127.0.0.1:5300]          # where this provider's zones are served

`local` needs no file: it is mailzone's zone-file provider writing to build/zones/."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import os
import re
import site
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mailzone.errors import ProviderError, SpecError
from mailzone.spec.yamlfile import YamlDoc, display_path, load_yaml, validate
from mailzone.util.confine import confine, is_inside
from mailzone.util.endpoint import is_ip_address, parse_endpoint
from mailzone.util.envref import env_ref, is_env_ref

LOCAL = "local"
LOCAL_CLASS = "mailzone.octo.local.LocalZoneFileProvider"
_NUMERIC_KEY = re.compile(r"^(port|timeout)$|_(port|timeout|ttl|size|threshold)$")


class MailzoneSection(BaseModel):
    """The provider file's `mailzone:` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # raw, with env/ unresolved: read it through ProviderDef.nameservers()
    nameservers: list[str] | str = Field(
        default_factory=list,
        description="Authoritative servers of this provider's zones, as HOST or HOST:PORT "
        "(checks and rotation query them directly; default: the zone's NS records). The list, "
        "or any entry, may be `env/VAR` (or `env/VAR/DEFAULT`) holding a comma-separated list; "
        "read when the servers are asked.",
    )

    write_concurrency: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Zones written at once by apply (default: 4 for BIND/RFC 2136 and `local`, "
        "1 for others; PowerDNS on sqlite refuses concurrent writes).",
    )

    create_zones: bool = Field(
        False,
        description="Let apply create a zone this provider does not have, as octoDNS's provider "
        "does (PowerDNS: without NS records). Off: such a zone is an error, so a typo'd zone is "
        "never served. A provider that does not say whether a zone exists is taken as having it; "
        "`local` always writes new zone files.",
    )

    @field_validator("nameservers")
    @classmethod
    def _endpoints(cls, values: list[str] | str) -> list[str] | str:
        for value in [values] if isinstance(values, str) else values:
            if isinstance(value, str) and value.startswith("env/"):
                continue  # checked when it is read
            if isinstance(values, str):
                raise ValueError(
                    "a list of HOST or HOST:PORT, or env/VAR holding a comma-separated list"
                )
            parse_endpoint(str(value))
        return values


@dataclass
class ProviderDef:
    """A provider as configured: its octoDNS class and options (secrets unresolved)."""

    name: str
    class_path: str
    options: dict[str, Any]
    section: MailzoneSection = field(default_factory=MailzoneSection)
    doc: YamlDoc | None = None
    root: Path | None = None  # the repository the file is in: no class is imported from it

    def where(self, *loc: str | int) -> str:
        """`providers/x.yaml:line` for an option, or a description of the built-in."""
        return self.doc.where(loc) if self.doc else f"built-in provider '{self.name}'"

    def nameservers(self) -> list[str]:
        """`mailzone.nameservers` with `env/VAR` read from the environment now (a comma-separated
        list); ProviderError naming the file and line for an unset variable or a bad entry."""
        given = self.section.nameservers
        entries: list[tuple[str, tuple[str | int, ...]]] = (
            [(given, ("mailzone", "nameservers"))]
            if isinstance(given, str)
            else [(v, ("mailzone", "nameservers", i)) for i, v in enumerate(given)]
        )
        out: list[str] = []
        for value, loc in entries:
            if not value.startswith("env/"):
                out.append(value)
                continue
            text = env_value(value)
            if text is None:
                raise ProviderError(
                    f"mailzone.nameservers: environment variable {env_name(value)} is not set "
                    "(a comma-separated list of HOST or HOST:PORT)",
                    self.where(*loc),
                )
            for item in (part.strip() for part in text.split(",")):
                if not item:
                    continue
                try:
                    parse_endpoint(item)
                except ValueError as err:
                    raise ProviderError(
                        f"mailzone.nameservers: {env_name(value)}: {err}", self.where(*loc)
                    ) from None
                out.append(item)
        return out


def env_name(value: str) -> str:
    """VAR of `env/VAR` or `env/VAR/DEFAULT`."""
    return env_ref(value)[0]


def env_value(value: str) -> str | None:
    """The environment's value for `env/VAR` (or DEFAULT of `env/VAR/DEFAULT`); None when VAR is
    not set and there is no default. Empty counts as not set: GitHub Actions passes a secret
    that is not set, and every secret on a fork's pull request, as an empty string."""
    var, default = env_ref(value)
    return os.environ.get(var) or default


def provider_path(root: Path, name: str) -> Path:
    """Where a provider's file lives."""
    return root / "providers" / f"{name}.yaml"


def load_provider_def(root: Path, name: str) -> ProviderDef:
    """Read and check `providers/<name>.yaml` (the built-in `local` needs none)."""
    path = provider_path(root, name)
    confine(root, path)
    if not path.exists():
        if name == LOCAL:
            return ProviderDef(LOCAL, LOCAL_CLASS, {"directory": str(root / "build" / "zones")})
        known = (
            sorted(p.stem for p in (root / "providers").glob("*.yaml"))
            if (root / "providers").is_dir()
            else []
        )
        choices = [LOCAL, *known]
        hint = difflib.get_close_matches(name, choices, n=1)
        mean = f"did you mean '{hint[0]}'? " if hint else ""
        raise ProviderError(
            f"provider '{name}' has no file {display_path(path)} "
            f"({mean}known: {', '.join(choices)})"
        )
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise SpecError("expected a mapping with class: and the provider's options", doc.where())
    options = dict(doc.data)
    class_path = options.pop("class", None)
    if not isinstance(class_path, str) or "." not in class_path:
        raise SpecError(
            "class: must name an octoDNS provider class, e.g. octodns_bind.Rfc2136Provider",
            doc.where(("class",)),
        )
    if not all(part.isidentifier() for part in class_path.split(".")):  # before any import
        raise SpecError(
            f"class: {class_path!r} is not a dotted class path like octodns_bind.Rfc2136Provider",
            doc.where(("class",)),
        )
    section = MailzoneSection()
    if "mailzone" in options:
        options.pop("mailzone")
        section = validate(MailzoneSection, doc, at=("mailzone",))
    _confine_folders(options, doc, root)
    if class_path == LOCAL_CLASS and "directory" in options:
        directory = str(options["directory"])
        if not directory.startswith("env/"):
            options["directory"] = str(root / directory)
    return ProviderDef(name, class_path, options, section, doc, root)


# options naming a folder a provider writes into (octoDNS's YamlProvider and the BIND zone-file
# provider's `directory`, mailzone's `local`)
_FOLDER_OPTION = re.compile(r"(.+_)?(directory|dir)")


def _confine_folders(options: dict[str, Any], doc: YamlDoc, root: Path) -> None:
    """SpecError unless every folder option written in the file lies inside the repository: a
    pull request must not make apply write `/etc`. A folder elsewhere (BIND's own zone
    directory) comes from the applying host's environment, `directory: env/ZONE_DIR`."""
    for key, value in options.items():
        if not (isinstance(key, str) and _FOLDER_OPTION.fullmatch(key) and isinstance(value, str)):
            continue
        if value.startswith("env/") or is_inside(root / value, root):
            continue
        raise SpecError(
            f"{key}: {value!r} is outside the repository; a provider file may only name a "
            f"folder inside it (one elsewhere comes from the applying host: {key}: env/VAR)",
            doc.where((key,)),
        )


def resolve_secrets(defn: ProviderDef) -> dict[str, Any]:
    """Options with every `env/VAR` (or `env/VAR/DEFAULT`) replaced by the environment's value."""

    def walk(value: Any, loc: tuple[str | int, ...]) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*loc, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*loc, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and value.startswith("env/"):
            text = env_value(value)
            if text is None:
                key = ".".join(str(p) for p in loc)
                raise ProviderError(
                    f"{key}: environment variable {env_name(value)} is not set", defn.where(*loc)
                )
            last = str(loc[-1]) if loc else ""
            return int(text) if text.isdigit() and _NUMERIC_KEY.search(last) else text
        return value

    options: dict[str, Any] = walk(defn.options, ())
    return options


def provider_class(defn: ProviderDef) -> type:
    """Import the provider class named by `class:` (octodns-bind's RFC 2136 provider gets
    mailzone's faster zone reader, which yields the same records; octodns-powerdns's provider
    gets the pre-filter's reader); ProviderError unless it is
    an octoDNS provider class, checked before anything constructs it."""
    if defn.class_path in ("octodns_bind.Rfc2136Provider", "octodns_bind.BindProvider"):
        from mailzone.octo.bind_reader import FastRfc2136Provider

        return FastRfc2136Provider
    if defn.class_path == "octodns_powerdns.PowerDnsProvider":
        from mailzone.octo.pdns_reader import FastPowerDnsProvider

        return FastPowerDnsProvider
    module_name, _, class_name = defn.class_path.rpartition(".")
    if defn.root is not None:
        _refuse_repository_module(defn, defn.root)
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ProviderError(
            f"class: cannot import '{defn.class_path}' ({err}); is its octodns-* package installed?",
            defn.where("class"),
        ) from None
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        names = [
            n
            for n, v in vars(module).items()
            if isinstance(v, type) and n.endswith(("Provider", "Source"))
        ]
        hint = difflib.get_close_matches(class_name, names, n=1)
        extra = f" (did you mean '{module_name}.{hint[0]}'?)" if hint else ""
        raise ProviderError(
            f"class: '{module_name}' has no class '{class_name}'{extra}", defn.where("class")
        )
    from octodns.provider.base import BaseProvider

    if not issubclass(cls, BaseProvider):  # before anything builds it: a file is input
        raise ProviderError(
            f"class: '{defn.class_path}' is not an octoDNS provider "
            "(a subclass of octodns.provider.base.BaseProvider)",
            defn.where("class"),
        )
    return cls


def _refuse_repository_module(defn: ProviderDef, root: Path) -> None:
    """ProviderError when the class's top-level module would be imported from inside the
    repository (a pull request can add `evil.py`, and the current directory may be on
    sys.path): importing it runs its code. `find_spec` locates it without executing anything;
    the interpreter's own site-packages stay allowed (a `.venv` inside the checkout)."""
    top = defn.class_path.partition(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return  # import_module reports it
    if spec is None:
        return
    places = [Path(spec.origin)] if spec.origin and spec.has_location else []
    places += [Path(p) for p in spec.submodule_search_locations or ()]
    installed = [Path(sysconfig.get_path(kind)) for kind in ("purelib", "platlib")]
    installed += [Path(p) for p in (*site.getsitepackages(), site.getusersitepackages())]
    for place in places:
        if is_inside(place, root) and not is_inside(place, *installed):
            raise ProviderError(
                f"class: '{top}' would be imported from inside the repository; mailzone runs "
                "provider classes only from installed packages",
                defn.where("class"),
            )


def unknown_options(defn: ProviderDef, cls: type) -> list[ProviderError]:
    """Options the provider class does not take, each with a did-you-mean (none if it takes anything)."""
    if _takes_anything(cls):
        return []
    accepted = _accepted_options(cls)
    out = []
    for key in defn.options:
        if key not in accepted:
            hint = difflib.get_close_matches(str(key), accepted, n=1)
            extra = f" (did you mean '{hint[0]}'?)" if hint else ""
            out.append(
                ProviderError(
                    f"unknown option '{key}' for {defn.class_path}{extra}", defn.where(key)
                )
            )
    return out


def check_provider_file(root: Path, name: str) -> tuple[list[str], list[str]]:
    """Load the file and import the class; missing secrets are only noted (CI may lack them)."""
    defn = load_provider_def(root, name)
    cls = provider_class(defn)
    errors = [str(e) for e in unknown_options(defn, cls)]
    notes: list[str] = []
    for key, value in defn.options.items():
        if is_env_ref(value) and env_value(value) is None:
            notes.append(
                f"{defn.where(key)}: {key}: environment variable {env_name(value)} is not set here"
            )
    try:
        defn.nameservers()
    except ProviderError as err:
        notes.append(str(err))
    return errors, notes


def build_provider(defn: ProviderDef) -> Any:
    """Construct the octoDNS provider; wrong options name the file and the option."""
    cls = provider_class(defn)
    for error in unknown_options(defn, cls):
        raise error
    options = resolve_secrets(defn)
    if defn.class_path == LOCAL_CLASS and "nameservers" not in options:
        named = nameserver_names(defn.nameservers())
        if named:
            options["nameservers"] = named
    from mailzone.octo.thresholds import DEFAULTS as THRESHOLD_DEFAULTS  # octoDNS: not for check

    accepted = _accepted_options(cls)
    for key, value in THRESHOLD_DEFAULTS.items():  # mailzone's, unless the file sets them
        if key in accepted:
            options.setdefault(key, value)
    try:
        return cls(defn.name, **options)
    except TypeError as err:
        message = str(err)
        bad = re.search(r"unexpected keyword argument '([^']+)'", message)
        if bad:
            allowed = _accepted_options(cls)
            hint = difflib.get_close_matches(bad.group(1), allowed, n=1)
            extra = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise ProviderError(
                f"unknown option '{bad.group(1)}' for {defn.class_path}{extra}",
                defn.where(bad.group(1)),
            ) from None
        missing = re.search(r"missing \d+ required positional arguments?: (.+)$", message)
        if missing:
            raise ProviderError(
                f"{defn.class_path} needs option(s) {missing.group(1)}", defn.where()
            ) from None
        raise ProviderError(f"cannot build {defn.class_path}: {message}", defn.where()) from None
    except Exception as err:  # a provider's own constructor check (e.g. an unresolvable host)
        raise ProviderError(f"cannot build {defn.class_path}: {err}", defn.where()) from None


def nameserver_names(endpoints: list[str]) -> list[str]:
    """The entries of `mailzone.nameservers` that can be NS names: host names on port 53 (the
    `local` provider's default NS set; `127.0.0.1:5300` says where to ask, not what to publish)."""
    names = []
    for endpoint in endpoints:
        host, port = parse_endpoint(str(endpoint))
        if port == 53 and not is_ip_address(host):
            names.append(host)
    return names


def _accepted_options(cls: type) -> list[str]:
    names: list[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters
        except (TypeError, ValueError):
            continue
        names += [p for p in params if p not in ("self", "id", "args", "kwargs")]
    return sorted(set(names))


def _takes_anything(cls: type) -> bool:
    """Whether the class names no options of its own (a bare **kwargs): then none can be checked."""
    try:
        params = inspect.signature(cls.__init__).parameters.values()  # type: ignore[misc]
    except (TypeError, ValueError):
        return True
    return not any(
        p.kind is p.POSITIONAL_OR_KEYWORD and p.name not in ("self", "id") for p in params
    )


CONCURRENT_WRITERS = {"octodns_bind.Rfc2136Provider", "octodns_bind.BindProvider", LOCAL_CLASS}


def creates_zones(defn: ProviderDef) -> bool:
    """Whether apply may create a zone this provider does not have (`local` writes new files)."""
    return defn.section.create_zones or defn.class_path == LOCAL_CLASS


def missing_zone(zone: str, provider: str) -> ProviderError:
    """The error for a zone that does not exist on a provider that may not create it."""
    return ProviderError(
        f"zone {zone} does not exist on provider '{provider}'; create it there, "
        "or set mailzone: create_zones: true",
        zone,
    )


def write_concurrency(defn: ProviderDef) -> int:
    """Zones apply may write at once through this provider."""
    if defn.section.write_concurrency is not None:
        return defn.section.write_concurrency
    return 4 if defn.class_path in CONCURRENT_WRITERS else 1
