"""canonical_json writes with orjson where that gives json.dumps' exact bytes: the chain's bytes
(and so every hash) are the same as with json.dumps(sort_keys, separators, ensure_ascii)."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keeper.audit import AuditRecord, canonical_json
from keeper.audit.records import MAX_SAFE_INT


def _reference(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


# every kind of character the two encoders could treat differently: controls, DEL, quotes and
# backslashes, slash, non-ASCII of the BMP (U+2028, private use), lone surrogates and astral
# characters (which sort after U+E000-U+FFFF by code point, before them in UTF-16)
_chars = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    st.characters(max_codepoint=0x1F),
    st.sampled_from(['\x7f', '"', "\\", "/", "\u2028", "\u00e9", "\ue000", "\uffff", "\ud800",
                     "\udfff", "\U0001f600", "\U0010ffff"]),
    st.characters(codec="utf-8"),
)
_ints = st.integers(-MAX_SAFE_INT, MAX_SAFE_INT) | st.sampled_from(
    [0, -1, MAX_SAFE_INT, -MAX_SAFE_INT, 2**31, -(2**31) - 1, 2**32, 2**53 - 2])


def _values(text: st.SearchStrategy[str]) -> st.SearchStrategy[object]:
    return st.recursive(
        st.none() | st.booleans() | _ints | text,
        lambda inner: (st.lists(inner, max_size=4) | st.lists(inner, max_size=3).map(tuple)
                       | st.dictionaries(text, inner, max_size=4)),
        max_leaves=24)


# half the values are all ASCII (controls and DEL included): orjson's path is taken or refused
# on them; the other half mix in every other kind of character (json.dumps' path)
_json = _values(st.text(st.characters(max_codepoint=0x7F), max_size=12)) | _values(
    st.text(_chars, max_size=12))


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
