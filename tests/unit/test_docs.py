"""The README stays true: its field table comes from the models, its test command is CI's."""

from __future__ import annotations

import re
from pathlib import Path

from mailzone.spec.fields import field_table

ROOT = Path(__file__).resolve().parents[2]


def test_readme_field_table_matches_the_models() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- fields:start -->")[1].split("<!-- fields:end -->")[0].strip()
    assert table == field_table(), (
        "run: mailzone schema --format markdown, paste between the markers"
    )


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    ci_lines = [
        line for line in (ROOT / ".ci" / "run").read_text().splitlines() if "pytest" in line
    ]
    assert ci_lines == [test_command]


def test_shipped_example_spec_is_valid() -> None:
    from mailzone.repo.project import load_domain

    domain = load_domain(ROOT / "zones" / "example.org.yaml", ROOT)
    assert ("", "MX") in {(r.name, r.type) for r in domain.records}


def test_readme_host_field_table_matches_the_models() -> None:
    from mailzone.spec.fields import host_field_table

    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- host-fields:start -->")[1].split("<!-- host-fields:end -->")[0]
    assert table.strip() == host_field_table(), (
        "run: python -c 'from mailzone.spec.fields import host_field_table; "
        "print(host_field_table())', paste between the host-fields markers"
    )


def test_readme_host_config_example_is_valid(tmp_path: Path) -> None:
    from mailzone.spec.host import load_host_config

    readme = (ROOT / "README.md").read_text()
    example = next(
        b
        for b in re.findall(r"```yaml\n(.*?)\n```", readme, re.S)
        if "/etc/mailzone/host.yaml" in b
    )
    path = tmp_path / "host.yaml"
    path.write_text(example + "\n")
    host = load_host_config(path, tmp_path)
    assert host.mta.kind == "exim"
    assert host.mta.reload == [["update-exim4.conf"], ["systemctl", "reload", "exim4"]]
