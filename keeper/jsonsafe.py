"""Decoding JSON from outside without letting its nesting kill the process.

Python's C JSON decoder recurses once per level of nesting. Libraries this project imports (py-evm
and py_ecc, pulled in by ape and web3 tooling) raise the interpreter's recursion limit to 100,000,
so a hostile ``[[[[...`` no longer raises ``RecursionError``: it overflows the C stack and the
process dies (SIGSEGV). Every decoder of outside input checks the depth first, here.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_JSON_DEPTH = 32  # deeper than any document this project reads or accepts
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(text: str | bytes) -> int:
    """Deepest nesting of arrays/objects in ``text`` (brackets inside strings do not count)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub(b'""', data)):
        depth += 1 if bracket in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def too_deep(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``text`` nests deeper than ``limit`` (cheap when it has few brackets at all)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    return json_depth(data) > limit


def loads(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses (``ValueError``) nesting deeper than ``limit`` before decoding."""
    if too_deep(text, limit):
        raise ValueError(f"nesting deeper than {limit} levels")
    return json.loads(text)
