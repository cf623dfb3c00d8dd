"""The docs stay true: their tables come from the models and the registries, their links lead
somewhere, and the README's test command is CI's.

Generated blocks sit between `<!-- NAME:start -->` and `<!-- NAME:end -->` markers;
`python tests/unit/test_docs.py` rewrites every one of them from the code."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from mailzone.spec.fields import field_table, host_field_table

ROOT = Path(__file__).resolve().parents[2]
README_LIMIT = 15_000  # bytes: what a user reads; reference material goes to docs/


def record_family_table() -> str:
    """The record families (`mailzone.records.families.FAMILIES`) as a Markdown table."""
    from mailzone.records.families import FAMILIES

    lines = ["| family | types | expanded by | records |", "|---|---|---|---|"]
    for family in FAMILIES:
        where = f"{family.expand.__module__.removeprefix('mailzone.')}.{family.expand.__name__}"
        about = family.about.replace("|", "/")
        lines.append(f"| `{family.name}` | {', '.join(family.types)} | `{where}` | {about} |")
    return "\n".join(lines)


def check_family_table() -> str:
    """The check families (`mailzone.check.families.FAMILIES`) as a Markdown table."""
    from mailzone.check.families import FAMILIES

    lines = ["| check | function | reach | what it verifies |", "|---|---|---|---|"]
    for family in FAMILIES:
        module, _, function = family.target.partition(":")
        about = family.about.replace("|", "/")
        lines.append(
            f"| [`{family.name}`](#{family.name}) | `check.{module}.{function}` "
            f"| {family.reach} | {about} |"
        )
    return "\n".join(lines)


def provider_field_table() -> str:
    """The provider file's `mailzone:` section (`mailzone.octo.providers.MailzoneSection`)."""
    from mailzone.octo.providers import MailzoneSection

    return field_table([(MailzoneSection, "mailzone.")])


def local_option_table() -> str:
    """The `local` provider's options (`mailzone.octo.local.LocalZoneOptions`)."""
    from mailzone.octo.local import LocalZoneOptions

    return field_table([(LocalZoneOptions, "")])


def check_names() -> str:
    """The check families' names, in running order, for a sentence."""
    from mailzone.check.families import NAMES

    return ", ".join(f"`{name}`" for name in NAMES)


def json_field_tables() -> str:
    """The fields of each `--format json` output, from its JSON Schema file; a shape described
    once (apply's zones are plan's) is not listed again."""
    import json

    seen: set[str] = set()
    out = []
    for kind in ("plan", "apply", "check", "rotate"):
        path = ROOT / "mailzone" / "cli" / "render" / "schemas" / f"{kind}.schema.json"
        schema = json.loads(path.read_text())
        out += [f"`{kind} --format json`:", "", "| field | type | meaning |", "|---|---|---|"]
        out += _json_rows(schema, schema["$defs"], "", seen)
        out.append("")
    return "\n".join(out).strip()


def _json_rows(
    node: dict[str, Any], defs: dict[str, Any], prefix: str, seen: set[str]
) -> list[str]:
    import json

    def resolve(value: dict[str, Any]) -> dict[str, Any]:
        ref = value.get("$ref", "")
        return defs[ref.rsplit("/", 1)[1]] if ref else value

    def kind(value: dict[str, Any]) -> str:
        if "const" in value:
            return f"`{value['const']}`"
        if "enum" in value:
            return " / ".join(f"`{v}`" for v in value["enum"])
        if value.get("type") == "array":
            return f"list of {kind(resolve(value['items']))}"
        if "additionalProperties" in value and "properties" not in value:
            return f"object of {kind(value['additionalProperties'])}"
        types = value.get("type", "object")
        return " or ".join(types) if isinstance(types, list) else types

    rows = []
    for name, value in node["properties"].items():
        path = f"{prefix}{name}"
        inner = resolve(value["items"]) if value.get("type") == "array" else resolve(value)
        about = value.get("description") or inner.get("description", "")
        rows.append(f"| `{path}` | {kind(value)} | {about.replace('|', '/')} |")
        if "properties" in inner:
            key = json.dumps(inner, sort_keys=True)
            if key not in seen:
                seen.add(key)
                rows += _json_rows(
                    inner, defs, f"{path}{'[]' if value.get('type') == 'array' else ''}.", seen
                )
    return rows


# marker name -> (file, what generates the text between its markers)
GENERATED: dict[str, tuple[str, Callable[[], str]]] = {
    "fields": ("docs/spec.md", field_table),
    "host-fields": ("docs/host-config.md", host_field_table),
    "provider-fields": ("docs/providers.md", provider_field_table),
    "local-options": ("docs/providers.md", local_option_table),
    "record-families": ("docs/development.md", record_family_table),
    "check-families": ("docs/check.md", check_family_table),
    "check-names": ("README.md", check_names),
    "json-fields": ("docs/json.md", json_field_tables),
}
MARKED = r"(<!-- {name}:start -->)(.*?)(<!-- {name}:end -->)"


def marked(text: str, name: str) -> str:
    """The text between a pair of markers, without the whitespace around it."""
    found = re.search(MARKED.format(name=name), text, re.S)
    assert found, f"no <!-- {name}:start/end --> markers"
    return found.group(2).strip()


def rewrite() -> None:
    """Put freshly generated text between every pair of markers."""
    for name, (path, generate) in GENERATED.items():
        file = ROOT / path
        text = file.read_text()
        found = re.search(MARKED.format(name=name), text, re.S)
        assert found, f"{path}: no <!-- {name}:start/end --> markers"
        inline = not found.group(2).startswith("\n")  # markers inside a sentence
        body = generate() if inline else f"\n{generate()}\n"
        new = re.sub(
            MARKED.format(name=name),
            lambda m, body=body: m.group(1) + body + m.group(3),
            text,
            flags=re.S,
        )
        if new != text:
            file.write_text(new)
            print(f"rewrote {path} ({name})")


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_docs_match_the_code(name: str) -> None:
    path, generate = GENERATED[name]
    text = (ROOT / path).read_text()
    assert marked(text, name) == generate(), f"run: python tests/unit/test_docs.py ({path})"


def test_every_record_family_is_in_the_module_map() -> None:
    from mailzone.records.families import FAMILIES

    rows = marked((ROOT / "docs" / "development.md").read_text(), "record-families")
    missing = [f.name for f in FAMILIES if f"| `{f.name}` | {', '.join(f.types)} |" not in rows]
    assert not missing, f"record families missing from docs/development.md: {missing}"


# a repository in which every record family makes records: example.org reports to example.net
RECORDS_SPEC = """\
domain: example.org
hosts: [{name: mail, ipv4: [192.0.2.25], ipv6: ["2001:db8::25"]}]
apex: {ipv4: [192.0.2.80]}
dkim: {algorithms: [], import: [{selector: s1, public_key: "v=DKIM1; k=ed25519; p=%s"}]}
dmarc: {policy: none, rua: ["mailto:dmarc@example.net"]}
tls_rpt: {rua: ["mailto:tls@example.org"]}
mta_sts: {mode: testing, host: {cname: web.example.net}}
dnssec: true
dane: {}
"""
PLACEHOLDERS = {
    "<d>": "example.org",
    "<dest>": "example.net",
    "<host>": "mail",
    "<sel>": "s1",
    "<mx>": "mail.example.org",
}


def _readme_record_rows() -> list[tuple[set[str], set[str]]]:
    """(names, types) of each row of the README's record table, placeholders filled in."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### The records", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cell = line.split("|")[1]
        names = set()
        for pattern in re.findall(r"`([^`]+)`", cell):
            for placeholder, value in PLACEHOLDERS.items():
                pattern = pattern.replace(placeholder, value)
            absolute = pattern.endswith(("example.org", "example.net"))
            names.add(
                pattern
                if absolute
                else "example.org"
                if pattern == "@"
                else f"{pattern}.example.org"
            )
        rows.append((names, set(re.findall(r"\b(?:MX|A|AAAA|TXT|CNAME|TLSA|CAA|SRV)\b", cell))))
    return rows


def test_the_readme_record_table_lists_every_record_mailzone_writes(tmp_path: Path) -> None:
    from mailzone.records.families import FAMILIES
    from mailzone.records.model import DomainInput
    from mailzone.repo.project import load_project
    from tests.helpers import basic_spec, dane_state, ed25519_public_b64, write_spec

    # given a repository whose specs make records of every family (and a report authorisation)
    write_spec(tmp_path, "example.org", RECORDS_SPEC % ed25519_public_b64())
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "example.org.yaml").write_text(dane_state())
    write_spec(tmp_path, "example.net", basic_spec("example.net"))
    project = load_project(tmp_path)
    org = project.domains["example.org"]
    given = DomainInput(org.spec, org.state, org.imported)
    assert [f.name for f in FAMILIES if not f.expand(given)] == []

    # then each record set of example.org, and example.net's authorisation, has a row naming
    # its name and type
    records = [(r, "example.org") for r in org.records] + [
        (r, "example.net") for r in project.domains["example.net"].records if "_report" in r.name
    ]
    rows = _readme_record_rows()
    missing = [
        f"{r.name or '@'} {r.type} ({zone})"
        for r, zone in records
        if not any(f"{r.name}.{zone}".strip(".") in n and r.type in t for n, t in rows)
    ]
    assert missing == [], "add them to the README's record table"
    assert any("_mailzone.example.org" in names for names, _ in rows)  # the registry


def test_every_check_family_is_documented() -> None:
    from mailzone.check.families import FAMILIES

    text = (ROOT / "docs" / "check.md").read_text()
    rows = marked(text, "check-families")
    headings = set(re.findall(r"^### `([\w-]+)`$", text, re.M))
    missing = [f.name for f in FAMILIES if f"[`{f.name}`]" not in rows or f.name not in headings]
    assert not missing, (
        f"give each a table row and a ### `name` section in docs/check.md: {missing}"
    )
    names = {f.name for f in FAMILIES}
    assert headings <= names, (
        f"docs/check.md describes checks that do not exist: {headings - names}"
    )


def test_every_mta_kind_is_in_the_registries_table() -> None:
    kinds_module = pytest.importorskip("mailzone.mta.kinds")
    kinds = kinds_module.KINDS
    names = list(kinds) if isinstance(kinds, dict) else [getattr(k, "name", k) for k in kinds]
    row = next(
        line
        for line in (ROOT / "docs" / "development.md").read_text().splitlines()
        if line.startswith("| `mailzone/mta/kinds.py`")
    )
    missing = [name for name in names if f"`{name}`" not in row]
    assert not missing, f"MTA kinds missing from docs/development.md's registries: {missing}"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    ci_lines = [
        line for line in (ROOT / ".ci" / "run").read_text().splitlines() if "pytest" in line
    ]
    assert ci_lines == [test_command]


def test_the_test_command_installs_every_python_package_at_an_exact_version() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pinned[_canonical(name)] = version
    names = [
        _canonical(re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]) for requirement in wanted
    ]
    assert [name for name in names if name not in pinned] == []
    assert "-c constraints.txt" in (ROOT / ".ci" / "run").read_text()


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_readme_is_short_with_both_commands_on_its_first_screen() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) < README_LIMIT, "move reference material to docs/"
    first_screen = "\n".join(readme.splitlines()[:40])
    assert "mailzone apply --yes" in first_screen
    assert ".venv/bin/pytest" in first_screen


def test_shipped_example_spec_is_valid(tmp_path: Path) -> None:
    from mailzone.repo.project import load_domain

    spec = tmp_path / "zones" / "example.org.yaml"
    spec.parent.mkdir()
    spec.write_text((ROOT / "examples" / "example.org.yaml").read_text())
    domain = load_domain(spec, tmp_path)
    assert ("", "MX") in {(r.name, r.type) for r in domain.records}


def test_a_checkout_has_no_spec_that_the_quickstart_would_apply() -> None:
    # the README's commands apply every spec in zones/ and `init example.org` must not collide
    assert not list((ROOT / "zones").glob("*.yaml"))


def test_host_config_example_is_valid(tmp_path: Path) -> None:
    from mailzone.spec.host import load_host_config

    text = (ROOT / "docs" / "host-config.md").read_text()
    example = next(
        b for b in re.findall(r"```yaml\n(.*?)\n```", text, re.S) if "/etc/mailzone/host.yaml" in b
    )
    path = tmp_path / "host.yaml"
    path.write_text(example + "\n")
    host = load_host_config(path, tmp_path)
    assert host.mta.kind == "exim"
    assert host.mta.reload == [["update-exim4.conf"], ["systemctl", "reload", "exim4"]]


def anchors(markdown: str) -> set[str]:
    """The `#fragment`s GitHub makes for a file's headings (a repeated one gets `-1`, `-2`)."""
    seen: dict[str, int] = {}
    found = set()
    without_code = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    for heading in re.findall(r"^#{1,6} (.+?)\s*$", without_code, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


DOCS = [
    "README.md",
    "bench/README.md",
    *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")),
]


@pytest.mark.parametrize("doc", DOCS)
def test_relative_links_lead_to_a_file_and_heading(doc: str) -> None:
    source = ROOT / doc
    text = re.sub(r"^```.*?^```", "", source.read_text(), flags=re.S | re.M)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, fragment = target.partition("#")
        file = (source.parent / unquote(path)).resolve() if path else source
        if not file.exists():
            broken.append(f"{target}: no file {file.relative_to(ROOT)}")
        elif fragment and fragment not in anchors(file.read_text()):
            broken.append(f"{target}: no heading #{fragment} in {file.relative_to(ROOT)}")
    assert not broken, f"{doc}: " + "; ".join(broken)


if __name__ == "__main__":
    rewrite()
    sys.exit(0)


def test_rotate_help_readme_and_timer_say_how_often_alike() -> None:
    from mailzone.cli.dkim import rotate

    # given every place that tells the user how often to run rotate
    places = {
        "rotate --help": rotate.__doc__ or "",
        "README": (ROOT / "README.md").read_text(),
        "docs/rotation.md": (ROOT / "docs" / "rotation.md").read_text(),
    }
    # then each says hourly (the documented systemd timer's OnCalendar), none says daily
    for place, text in places.items():
        assert re.search(r"run it hourly", text), place
        assert "daily" not in text, place
    assert "OnCalendar=hourly" in places["docs/rotation.md"]
