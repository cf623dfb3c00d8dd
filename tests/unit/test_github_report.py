"""The bodies `ci comment` and `ci issue` send: built from the Markdown plan, within a limit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mailzone.repo.github_report import (
    DRIFT_MARKER,
    PLAN_MARKER,
    drift_issue_body,
    plan_comment_body,
    plan_sections,
)

TABLE = "| action | name | type | old | new |\n|---|---|---|---|---|\n"


def zone(name: str, changes: int) -> str:
    if not changes:
        return f"### {name} (local)\n\nNo changes.\n\n"
    rows = "".join(f"| create | r{i}.{name}. | TXT |  | `v{i}` |\n" for i in range(changes))
    return f"### {name} (local)\n\n{TABLE}{rows}\n"


def test_sections_count_the_rows_of_each_zone() -> None:
    plan = zone("a.test", 0) + zone("b.test", 2) + "### c.test (local)\n\n**error:** boom\n"
    assert [(s.title, s.changes, s.quiet) for s in plan_sections(plan)] == [
        ("a.test (local)", 0, True),
        ("b.test (local)", 2, False),
        ("c.test (local)", 0, False),
    ]


def test_an_empty_or_unchanged_plan_says_no_dns_changes() -> None:
    for plan in ("", zone("a.test", 0) + zone("b.test", 0)):
        assert (
            plan_comment_body(plan, None) == f"{PLAN_MARKER}\n## mailzone plan\n\nNo DNS changes.\n"
        )


@given(
    sizes=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=60),
    limit=st.integers(min_value=600, max_value=5000),
)
def test_the_comment_always_fits_and_names_every_zone_or_says_how_many_are_left(
    sizes: list[int], limit: int
) -> None:
    plan = "".join(zone(f"z{i}.test", n) for i, n in enumerate(sizes))
    body = plan_comment_body(plan, "https://github.example/o/r/actions/runs/1", limit)
    assert len(body) <= limit and body.startswith(PLAN_MARKER + "\n")
    changing = [f"z{i}.test" for i, n in enumerate(sizes) if n]
    listed = [name for name in changing if f"{name} (local)" in body]
    assert listed == changing[: len(listed)]
    if len(listed) < len(changing):
        assert f"… and {len(changing) - len(listed)} more zone(s)" in body


def test_a_drift_body_is_cut_to_the_limit() -> None:
    body = drift_issue_body("x" * 5000, "https://github.example/run", limit=1000)
    assert len(body) <= 1000 and body.startswith(DRIFT_MARKER + "\n")
    assert "… cut here" in body and "(https://github.example/run)" in body
