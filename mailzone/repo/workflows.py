"""`mailzone ci init`: write the GitHub Actions workflows (`workflows/*.yml`, shipped with
mailzone) into a repository, each credential step's `env:` listing the variables its provider
files read (`env/VAR`), and a `requirements.txt` pinning mailzone when it has none."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mailzone.errors import MailzoneError, SpecError
from mailzone.spec.yamlfile import YamlDoc, display_path, load_yaml
from mailzone.util.confine import confine, read_regular
from mailzone.util.envref import env_ref, is_env_ref
from mailzone.util.files import write_atomic

WORKFLOWS = ("plan.yml", "apply.yml", "drift.yml")
FOLDER = Path(".github") / "workflows"
# a step's env: that holds the provider credentials (without any: its comment), and the
# variables under it
_CREDENTIALS = re.compile(
    r"^(?P<indent> *)(?:env: )?(?P<note># provider credentials.*)\n"
    r"(?:(?P=indent)  \w+: \$\{\{ secrets\..*\n)*",
    re.M,
)
_SECRET_NAME = re.compile(r"(?!(?i:github_))[A-Za-z_][A-Za-z0-9_]*")
_MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class EnvVar:
    """A variable a provider file reads: its name, its default (None: it must be set) and the
    file and line that name it."""

    name: str
    default: str | None
    where: str


@dataclass(frozen=True)
class Installed:
    """What `ci init` did: the files it wrote, those that already held the same text, and the
    variables the repository's providers read (to set as secrets or variables)."""

    written: list[Path]
    unchanged: list[Path]
    env: list[EnvVar]


def template(name: str) -> str:
    """The text of the shipped workflow `name`."""
    return (resources.files("mailzone.repo") / "workflows" / name).read_text(encoding="utf-8")


def provider_env(root: Path) -> list[EnvVar]:
    """Every `env/VAR` of `providers/*.yaml`, in file order, each variable once."""
    found: dict[str, EnvVar] = {}
    folder = root / "providers"
    confine(root, folder)
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        confine(root, path)
        doc = load_yaml(path)
        for loc, value in _strings(doc.data, ()):
            name, default = env_ref(value)
            if name not in found:
                found[name] = _env_var(doc, loc, name, default)
    return list(found.values())


def _strings(data: Any, loc: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    """Every `env/...` string in `data`, with where it is."""
    if isinstance(data, dict):
        return [hit for key, value in data.items() for hit in _strings(value, (*loc, key))]
    if isinstance(data, list):
        return [hit for i, value in enumerate(data) for hit in _strings(value, (*loc, i))]
    return [(loc, data)] if is_env_ref(data) else []


def _env_var(doc: YamlDoc, loc: tuple[str | int, ...], name: str, default: str | None) -> EnvVar:
    field = ".".join(str(part) for part in loc)
    if not _SECRET_NAME.fullmatch(name):
        raise SpecError(
            f"{field}: env/{name}: GitHub secret and variable names are letters, digits and _, "
            "not starting with a digit or GITHUB_",
            doc.where(loc),
        )
    return EnvVar(name, default, doc.where(loc))


def render(text: str, env: list[EnvVar]) -> str:
    """A workflow's text with every credential `env:` listing `env`: the secret, else the
    variable of that name (neither: empty, which mailzone takes as unset, so the provider
    file's default applies)."""

    def lines(match: re.Match[str]) -> str:
        indent, note = match["indent"], match["note"]
        if not env:  # actionlint refuses an empty env:
            return f"{indent}{note}\n"
        out = [f"{indent}env: {note}\n"]
        for var in env:
            value = f"secrets.{var.name} || vars.{var.name}"
            out.append(f"{indent}  {var.name}: ${{{{ {value} }}}}\n")
        return "".join(out)

    return _CREDENTIALS.sub(lines, text)


def install_workflows(root: Path, version: str, force: bool = False) -> Installed:
    """Write `.github/workflows/{plan,apply,drift}.yml` and, when missing, `requirements.txt`
    (`mailzone==VERSION`). A file that exists with other text is an error naming it, unless
    `force`; nothing is written before every file is checked."""
    env = provider_env(root)
    wanted = {root / FOLDER / name: render(template(name), env) for name in WORKFLOWS}
    requirements = root / "requirements.txt"
    confine(root, requirements)
    if not requirements.exists():  # an existing one pins mailzone (and provider packages) itself
        wanted[requirements] = f"mailzone=={version}\n"
    confine(root, root / FOLDER, writes=True)
    unchanged = []
    for path, text in wanted.items():
        confine(root, path)
        if not path.exists():
            continue
        old = _read(path)
        if old == text:
            unchanged.append(path)
        elif not force:
            raise MailzoneError(
                f"{display_path(path)} exists and differs from mailzone's workflow; compare and "
                "merge by hand, or replace it with ci init --force"
            )
    written = [path for path in wanted if path not in unchanged]
    for path in written:
        try:
            write_atomic(path, wanted[path])
        except OSError as err:
            raise MailzoneError(
                f"cannot write: {err.strerror or err}", display_path(path)
            ) from None
    return Installed(written, unchanged, env)


def _read(path: Path) -> str | None:
    try:
        raw = read_regular(path, _MAX_BYTES)
        return raw.decode("utf-8") if raw is not None else None
    except (OSError, ValueError):  # a directory, a FIFO, not UTF-8: differs
        return None
