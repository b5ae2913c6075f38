"""Decoding JSON from outside without letting its nesting kill the process.

Python's C JSON decoder recurses once per level of nesting. Libraries this project imports (py-evm
and py_ecc, pulled in by ape and web3 tooling) raise the interpreter's recursion limit to 100,000,
so a hostile ``[[[[...`` no longer raises ``RecursionError``: it overflows the C stack and the
process dies (SIGSEGV). Every decoder of outside input checks the depth first, here.
"""

from __future__ import annotations

import json
import re
from array import array
from itertools import accumulate
from typing import Any

MAX_JSON_DEPTH = 32  # deeper than any document this project reads or accepts
# a string literal, its body in runs of plain characters between escapes ("unrolled": twice as
# fast as an alternation per character on a 90 KB body of a thousand transfers)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_STEPS = bytes.maketrans(b"[{]}", bytes([1, 1, 255, 255]))  # +1 / -1 as signed bytes


def json_depth(text: str | bytes) -> int:
    """Deepest nesting of arrays/objects in ``text`` (brackets inside strings do not count).

    Strings are blanked, every other byte but brackets dropped, and the brackets summed as +1/-1
    steps in C (``bytes.translate``, ``itertools.accumulate``): the check runs on every JSON body
    the API receives, before it is decoded."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    steps = _STRING.sub(b'""', data).translate(_STEPS, _NOT_BRACKETS)
    return max(0, max(accumulate(array("b", steps)), default=0))


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
