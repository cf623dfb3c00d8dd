"""The JSON Schema files of the `--format json` outputs, and the merge of shard results
(`mailzone ci merge`) as pure data: exit codes, order, duplicates, bad files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from mailzone.errors import MailzoneError
from mailzone.repo import results
from mailzone.repo.results import SCHEMA_VERSIONS, combined_exit_code, merge_results, read_result

SCHEMAS = Path(results.__file__).parents[1] / "cli" / "render" / "schemas"


def schema(kind: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / f"{kind}.schema.json").read_text())
    return data


def objects(node: Any) -> Iterator[dict[str, Any]]:
    """Every schema object in `node` that lists properties."""
    if isinstance(node, dict):
        if "properties" in node:
            yield node
        for value in node.values():
            yield from objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from objects(value)


@pytest.mark.parametrize("kind", sorted(SCHEMA_VERSIONS))
def test_each_schema_is_valid_draft_2020_12_and_closed(kind: str) -> None:
    data = schema(kind)

    Draft202012Validator.check_schema(data)
    assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert data["properties"]["schema_version"] == {
        "const": SCHEMA_VERSIONS[kind],
        "description": data["properties"]["schema_version"]["description"],
    }
    # a new field in the output fails the tests until the schema says what it is
    for node in objects(data):
        assert node["additionalProperties"] is False, node
        assert sorted(node["required"]) == sorted(node["properties"]), node


def test_the_schema_files_are_all_there_is() -> None:
    assert sorted(p.name for p in SCHEMAS.iterdir()) == sorted(
        f"{kind}.schema.json" for kind in SCHEMA_VERSIONS
    )


def test_apply_describes_its_zones_as_plan_does() -> None:
    plan, apply = schema("plan"), schema("apply")

    assert apply["$defs"]["zone"] == plan["$defs"]["zone"]
    assert apply["$defs"]["change"] == plan["$defs"]["change"]


@pytest.mark.parametrize(
    ("codes", "merged"),
    [
        ([], 0),
        ([0, 0], 0),
        ([0, 2], 2),
        ([2, 4], 4),
        ([4, 3, 2], 3),
        ([3, 1, 4], 1),
        ([2, 0, 1], 1),
    ],
)
def test_the_merged_exit_code_is_the_gravest(codes: list[int], merged: int) -> None:
    assert combined_exit_code(codes) == merged


def plan_result(code: int, *zones: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "exit_code": code,
        "zones": [{"zone": z, "provider": "local", "changes": []} for z in zones],
    }


def test_a_merged_plan_lists_the_zones_in_one_runs_order() -> None:
    merged = merge_results(
        "plan",
        [("1.json", plan_result(0, "b.test", "d.test")), ("2.json", plan_result(2, "a.test"))],
    )

    assert merged["exit_code"] == 2
    assert [z["zone"] for z in merged["zones"]] == ["a.test", "b.test", "d.test"]


def test_a_zone_in_two_shards_is_an_error_naming_both_files() -> None:
    with pytest.raises(MailzoneError) as err:
        merge_results(
            "plan", [("1.json", plan_result(0, "a.test")), ("2.json", plan_result(0, "a.test"))]
        )

    assert str(err.value) == (
        "2.json: zones: a.test is also in 1.json (merge the results of one run's shards, each once)"
    )


def test_merged_check_flags_are_any_of_the_shards() -> None:
    def check(code: int, failed: bool, inconclusive: bool, domain: str) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "exit_code": code,
            "failed": failed,
            "inconclusive": inconclusive,
            "domains": [{"domain": domain}],
        }

    merged = merge_results(
        "check", [("1", check(3, True, False, "b.test")), ("2", check(4, False, True, "a.test"))]
    )

    assert (merged["exit_code"], merged["failed"], merged["inconclusive"]) == (3, True, True)
    assert [d["domain"] for d in merged["domains"]] == ["a.test", "b.test"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "not a `plan --format json` result (not an object)"),
        ("{", "not JSON (Expecting property name enclosed in double quotes: line 1 column 2"),
        ('{"zones": []}', "schema_version: null is not 1, the version of `plan --format json`"),
        ('{"schema_version": 2, "exit_code": 0, "zones": []}', "schema_version: 2 is not 1"),
        ('{"schema_version": 1, "exit_code": 7, "zones": []}', "exit_code: 7 is not 0 to 4"),
        ('{"schema_version": 1, "exit_code": true, "zones": []}', "exit_code: true is not 0"),
        ('{"schema_version": 1, "exit_code": 0, "zones": [{"zone": 3}]}', "zones: missing, or"),
        ('{"schema_version": 1, "exit_code": 0, "domains": []}', "zones: missing, or"),
    ],
)
def test_a_bad_result_file_is_one_error_naming_it(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "shard.json"
    path.write_text(content)

    with pytest.raises(MailzoneError) as err:
        read_result(path, "plan")

    assert str(err.value).startswith(f"{path}: {message}")


def test_a_result_file_too_large_is_refused_before_it_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(plan_result(0, "a.test")))
    monkeypatch.setattr(results, "MAX_RESULT_BYTES", 10)

    with pytest.raises(MailzoneError, match=r"huge\.json: more than 10 bytes"):
        read_result(path, "plan")


@pytest.mark.parametrize("kind", sorted(SCHEMA_VERSIONS))
def test_every_field_says_what_it_means(kind: str) -> None:
    for node in objects(schema(kind)):
        for name, value in node["properties"].items():
            assert value.get("description"), (kind, name)
