"""Hypothesis strategies of JSON values (no floats) built to find where two JSON encoders differ:
control characters, DEL, quotes and backslashes, non-ASCII of the BMP (U+2028, private use),
lone surrogates, astral characters (they sort after U+E000-U+FFFF by code point, before them in
UTF-16), integers at the 2**53 / 2**63 / 2**64 edges, nesting, empty containers and tuples."""

from __future__ import annotations

from hypothesis import strategies as st

MAX_SAFE_INT = 2**53 - 1

CHARS = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    st.characters(max_codepoint=0x1F),
    st.sampled_from(['\x7f', '"', "\\", "/", "\u2028", "\u00e9", "\ue000", "\uffff", "\ud800",
                     "\udfff", "\U0001f600", "\U0010ffff"]),
    st.characters(codec="utf-8"),
)
SAFE_INTS = st.integers(-MAX_SAFE_INT, MAX_SAFE_INT) | st.sampled_from(
    [0, -1, MAX_SAFE_INT, -MAX_SAFE_INT, 2**31, -(2**31) - 1, 2**32, 2**53 - 2])
WIDE_INTS = SAFE_INTS | st.sampled_from([2**53, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1,
                                          2**64 - 1, 2**64, 10**30, -(10**30)])


def values(text: st.SearchStrategy[str], ints: st.SearchStrategy[int] = SAFE_INTS
           ) -> st.SearchStrategy[object]:
    """Nested lists, tuples and objects (keys from ``text``) of null, booleans, ``ints`` and
    ``text``."""
    return st.recursive(
        st.none() | st.booleans() | ints | text,
        lambda inner: (st.lists(inner, max_size=4) | st.lists(inner, max_size=3).map(tuple)
                       | st.dictionaries(text, inner, max_size=4)),
        max_leaves=24)


def json_values(ints: st.SearchStrategy[int] = SAFE_INTS) -> st.SearchStrategy[object]:
    """Half all-ASCII values (controls and DEL included), half mixing in every other kind of
    character: both branches of an ASCII-only encoder are reached often."""
    return (values(st.text(st.characters(max_codepoint=0x7F), max_size=12), ints)
            | values(st.text(CHARS, max_size=12), ints))
