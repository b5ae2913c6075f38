"""The suite collects: test modules live in folders without ``__init__.py`` (pytest's rootdir
import mode), so two test files with the same name anywhere under tests/ stop the whole run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_every_test_module_name_is_unique() -> None:
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert [n for n, c in names.items() if c > 1] == []
