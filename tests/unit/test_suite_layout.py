"""The suite's own layout: pytest imports test modules by their file name (rootdir-relative
packages only where a folder has __init__.py), so two test files with one name in different
folders break collection of the whole suite."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent


def test_test_module_names_are_unique_across_folders() -> None:
    names = Counter(
        p.name for p in TESTS.rglob("test_*.py") if not (p.parent / "__init__.py").exists()
    )
    assert [n for n, count in names.items() if count > 1] == []
