"""canonical_json writes with orjson where that gives json.dumps' exact bytes: the chain's bytes
(and so every hash) are the same as with json.dumps(sort_keys, separators, ensure_ascii)."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings

from keeper.audit import AuditRecord, canonical_json
from keeper.audit.records import MAX_SAFE_INT
from strongroom_testkit.jsonvalues import json_values


def _reference(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


_json = json_values()


@settings(max_examples=200, deadline=None)
@given(value=_json)
def test_canonical_json_is_json_dumps_byte_for_byte(value) -> None:
    want = _reference(value)
    assert canonical_json(value) == want
    fast = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    if fast.isascii() and b"\x7f" not in fast:  # when canonical_json takes orjson's text
        assert fast == want.encode()


@pytest.mark.parametrize("value", [
    {"del": "\x7f"}, {"ctl": "".join(map(chr, range(32)))}, {"ls": "\u2028", "e": "\u00e9"},
    {"\ue000": 1, "\U0001f600": 2, "a": 3}, {"lone": "\ud800x"}, {"q": '"\\/'},
    {"n": [MAX_SAFE_INT, -MAX_SAFE_INT, 0, {}, [], (), None, True, False]},
    {"b": {"z": 1, "A": 2, "_": 3, "": 4}},
])
def test_the_characters_where_the_encoders_differ_keep_the_canonical_bytes(value) -> None:
    assert canonical_json(value) == _reference(value)
    rec = AuditRecord("a", "op", value, value)
    assert json.loads(rec.encode())["params"] == json.loads(_reference(value))
    assert rec.encode().isascii()
