"""`--shard K/N`: which zone lands in which shard, and how domains are selected by it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailzone.repo.project import load_project
from mailzone.repo.shard import Shard, parse_shard, shard_count, shard_of
from tests.helpers import basic_spec, write_spec

# a change of the hash moves zones between CI jobs: it must be deliberate
FIXED = {
    ("example.org", 2): 1,
    ("example.com", 2): 2,
    ("example.net", 4): 4,
    ("a.test", 4): 3,
    ("c.test", 256): 24,
    ("xn--bcher-kva.test", 256): 49,
    ("mail.example.org", 256): 253,
}


@pytest.mark.parametrize(("zone", "count"), sorted(FIXED))
def test_a_zone_always_lands_in_the_same_shard(zone: str, count: int) -> None:
    assert shard_of(zone, count) == FIXED[(zone, count)]


def test_the_zone_name_is_taken_as_specs_name_it() -> None:
    assert shard_of("Example.ORG.", 2) == shard_of("example.org", 2)
    assert shard_of("bücher.test", 256) == shard_of("xn--bcher-kva.test", 256) == 49


@pytest.mark.parametrize(
    ("text", "shard"), [("1/1", Shard(1, 1)), ("2/4", Shard(2, 4)), ("256/256", Shard(256, 256))]
)
def test_parse_shard_accepts_k_of_n(text: str, shard: Shard) -> None:
    assert parse_shard(text) == shard
    assert str(shard) == text


@pytest.mark.parametrize("text", ["0/2", "3/2", "x", "1/0", "1/300", "1/", "/2", "-1/2", "1/2/3"])
def test_parse_shard_rejects_what_is_not_k_of_n(text: str) -> None:
    with pytest.raises(ValueError, match=text.replace("/", ".")):
        parse_shard(text)


def fleet(root: Path) -> None:
    """Twelve zones, three of them holding a second domain (a sub-domain in the parent zone)."""
    for i in range(12):
        write_spec(root, f"d{i}.test", basic_spec(f"d{i}.test"))
    for i in (0, 5, 9):
        write_spec(root, f"mx.d{i}.test", basic_spec(f"mx.d{i}.test", extra=f"zone: d{i}.test\n"))


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_shards_split_the_domains_disjointly_and_keep_a_zone_together(
    tmp_path: Path, count: int
) -> None:
    fleet(tmp_path)
    project = load_project(tmp_path)

    shards = [[d.name for d in project.select(shard=Shard(k, count))] for k in range(1, count + 1)]

    names = [name for shard in shards for name in shard]
    assert sorted(names) == sorted(project.domains)  # every domain once
    for i in (0, 5, 9):
        (together,) = [s for s in shards if f"d{i}.test" in s]
        assert f"mx.d{i}.test" in together


def test_named_domains_are_filtered_by_the_shard_too(tmp_path: Path) -> None:
    fleet(tmp_path)
    project = load_project(tmp_path)
    named = ["d0.test", "d1.test", "d2.test", "mx.d0.test"]

    picked = [[d.name for d in project.select(named, Shard(k, 2))] for k in (1, 2)]

    assert sorted(picked[0] + picked[1]) == sorted(named)
    for k, names in enumerate(picked, 1):
        assert all(shard_of(project.domains[n].zone, 2) == k for n in names)


@pytest.mark.parametrize(
    ("zones", "max_shards", "per_shard", "count"),
    [
        (0, 16, 500, 1),
        (1, 16, 500, 1),
        (500, 16, 500, 1),
        (501, 16, 500, 2),
        (1200, 16, 500, 3),
        (1200, 2, 500, 2),
        (10_000, 256, 1, 256),
        (7, 16, 2, 4),
    ],
)
def test_shard_count_is_zones_over_per_shard_capped(
    zones: int, max_shards: int, per_shard: int, count: int
) -> None:
    assert shard_count(zones, max_shards, per_shard) == count
