"""`mailzone ci matrix` on generated repositories (`local` target): the matrix is sized from the
zones, and its shards, planned one by one, cover every zone exactly once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import mailzone, plan_json, refused
from tests.helpers import basic_spec, write_spec


def repo(root: Path, zones: int) -> Path:
    for i in range(zones):
        write_spec(root, f"d{i}.test", basic_spec(f"d{i}.test"))
    return root


def matrix(root: Path, *args: str) -> list[str]:
    run = mailzone(root, "ci", "matrix", *args)
    assert run.code == 0, run.err
    assert run.out.count("\n") == 1
    shards: list[str] = json.loads(run.out)["shard"]
    return shards


def test_one_domain_is_one_shard(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec())
    assert matrix(tmp_path) == ["1/1"]


def test_the_zones_size_the_matrix_and_max_shards_caps_it(tmp_path: Path) -> None:
    repo(tmp_path, 1200)
    assert matrix(tmp_path) == ["1/3", "2/3", "3/3"]
    assert matrix(tmp_path, "--max-shards", "2") == ["1/2", "2/2"]
    assert len(matrix(tmp_path, "--domains-per-shard", "1", "--max-shards", "256")) == 256


def test_a_domain_in_another_domains_zone_is_not_a_zone_of_its_own(tmp_path: Path) -> None:
    repo(tmp_path, 2)
    write_spec(tmp_path, "mx.d0.test", basic_spec("mx.d0.test", extra="zone: d0.test\n"))
    assert matrix(tmp_path, "--domains-per-shard", "1") == ["1/2", "2/2"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--max-shards", "257"), "--max-shards: Input should be less than or equal to 256"),
        (("--max-shards", "0"), "--max-shards: Input should be greater than or equal to 1"),
        (
            ("--domains-per-shard", "0"),
            "--domains-per-shard: Input should be greater than or equal to 1",
        ),
        (
            ("--max-shards", "many"),
            "--max-shards: Input should be a valid integer, unable to parse string as an integer",
        ),
        (("--format", "yaml"), "--format: 'yaml' is not one of json"),
    ],
)
def test_bad_values_are_one_line_errors(tmp_path: Path, args: tuple[str, ...], error: str) -> None:
    write_spec(tmp_path, "example.org", basic_spec())
    run = mailzone(tmp_path, "ci", "matrix", *args)
    assert refused(run) == error
    assert run.out == ""


def test_an_empty_repository_is_an_error(tmp_path: Path) -> None:
    assert refused(mailzone(tmp_path, "ci", "matrix")).startswith("no specs in ")


def test_plan_over_the_printed_shards_covers_every_zone_exactly_once(tmp_path: Path) -> None:
    repo(tmp_path, 7)
    shards = matrix(tmp_path, "--domains-per-shard", "2")
    assert shards == ["1/4", "2/4", "3/4", "4/4"]

    planned = [z["zone"] for shard in shards for z in plan_json(tmp_path, "--shard", shard)]

    assert sorted(planned) == sorted(f"d{i}.test" for i in range(7))


def test_github_output_appends_the_matrix(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec())
    target = tmp_path / "github-output"
    target.write_text("earlier=1\n")

    run = mailzone(tmp_path, "ci", "matrix", "--github-output", env={"GITHUB_OUTPUT": str(target)})

    assert run.code == 0, run.err
    assert target.read_text() == 'earlier=1\nmatrix={"shard": ["1/1"]}\n'


def test_github_output_without_the_variable_is_an_error(tmp_path: Path) -> None:
    write_spec(tmp_path, "example.org", basic_spec())
    run = mailzone(tmp_path, "ci", "matrix", "--github-output", unset=("GITHUB_OUTPUT",))
    assert refused(run) == "--github-output: $GITHUB_OUTPUT is not set"
