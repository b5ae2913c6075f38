"""Sorted, compact JSON text written by orjson, byte for byte what ``json.dumps`` writes.

``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=...)`` costs ~10x
orjson's ``OPT_SORT_KEYS`` for the thousands of texts a batch stores and hashes. For values of
JSON's own types (``str``, ``int``, ``bool``, ``None``, ``list``/``tuple``, ``dict`` with string
keys; no floats: the callers refuse them, money is integers) the two write the same text: both
sort keys by code point, write no whitespace, escape ``"``, ``\\`` and the control characters
alike and write other characters as they are. Where they differ, :func:`sorted_compact` takes
``json.dumps``' text: with ``ascii_only`` when orjson's output holds a non-ASCII character
(``json.dumps`` escapes it as ``\\uXXXX``) or DEL (``json.dumps`` escapes it, orjson does not),
and whenever orjson refuses the value (an integer beyond 64 bits, a lone surrogate, a subclass
of a JSON type, a datetime or dataclass). The property tests in ``tests/keeper/audit`` and
``tests/keeper/notifications`` hold the two encoders to the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_DUMPS = orjson.dumps
# types json.dumps does not write (datetime, dataclass) or writes as their base type (a str or
# int subclass) are refused by orjson, not written its own way: json.dumps decides them
_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
            | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS)
_DEL = 0x7F


def sorted_compact(value: Any, *, ascii_only: bool) -> str:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii_only,
    allow_nan=False)`` (see module), written by orjson where that is the same text."""
    try:
        fast = _DUMPS(value, option=_OPTIONS)
    except orjson.JSONEncodeError:
        fast = None
    if fast is not None and (not ascii_only or (fast.isascii() and _DEL not in fast)):
        return fast.decode()
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii_only,
                      allow_nan=False)
