"""A hostile, deeply nested JSON list is refused, never a crash, even where a library raised the
interpreter's recursion limit (py-evm does, and ape/web3 tooling imports it): then the C JSON
decoder overflows the process stack instead of raising RecursionError."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

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


def _depth_by_scanning(data: bytes) -> int:
    """The rule spelled out byte by byte: outside a string literal (from a quote to the next
    quote no backslash escapes), ``[``/``{`` go one level deeper and ``]``/``}`` one back;
    an unterminated literal does not hide what follows its quote."""
    depth = deepest = i = 0
    while i < len(data):
        c = data[i:i + 1]
        if c == b'"':
            j = i + 1
            while j < len(data) and data[j:j + 1] != b'"':
                j += 2 if data[j:j + 1] == b"\\" else 1
            if j < len(data):  # a closed literal: skip it whole
                i = j + 1
                continue
        elif c in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in b"]}":
            depth -= 1
        i += 1
    return deepest


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b"a", b" ", b"\n", b"\xc3\xa9"]),
                max_size=40))
def test_depth_is_the_bracket_rule_on_any_text(parts: list[bytes]) -> None:
    data = b"".join(parts)
    assert json_depth(data) == _depth_by_scanning(data)
    assert json_depth(data.decode("utf-8", "surrogateescape").encode("utf-8", "surrogateescape")) \
        == _depth_by_scanning(data)
