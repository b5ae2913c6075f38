"""A hostile, deeply nested JSON list is refused, never a crash, even where a library raised the
interpreter's recursion limit (py-evm does, and ape/web3 tooling imports it): then the C JSON
decoder overflows the process stack instead of raising RecursionError."""

from __future__ import annotations

import subprocess
import sys

from keeper.jsonsafe import MAX_JSON_DEPTH, json_depth

PROBE = """
import sys
sys.setrecursionlimit(1_000_000)
from keeper.compliance.screening.formats import ListFormatError, parse_list
for junk in (b"[" * 200_000, b'{"format": "strongroom-list/1", "entries": ' + b"[" * 200_000):
    try:
        parse_list(junk, "own-json")
    except ListFormatError:
        print("refused")
"""


def test_deep_nesting_is_refused_without_crashing_under_a_raised_recursion_limit():
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"the parser crashed (exit {run.returncode}): {run.stderr[-500:]}"
    assert run.stdout.split() == ["refused", "refused"]


def test_depth_ignores_brackets_inside_strings():
    assert json_depth('{"a": "[[[{{{", "b": [1, {"c": [2]}]}') == 4
    assert json_depth('["\\\\", "\\"[["]') == 1
    assert json_depth("[" * (MAX_JSON_DEPTH + 1)) == MAX_JSON_DEPTH + 1
