"""Client notice payloads are stored as json.dumps(sort_keys, separators=(",", ":"),
ensure_ascii=False) gives them, byte for byte, though orjson writes them: a replayed event is
compared with the stored text, so a payload stored before must still match."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from keeper.jsontext import sorted_compact
from keeper.notifications.outbox import encode_payload
from strongroom_testkit.jsonvalues import WIDE_INTS, json_values


def _reference(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _stored_as_before(payload: dict) -> None:
    """encode_payload's text is json.dumps'; a lone surrogate (no UTF-8 form) is refused."""
    want = _reference(payload)
    try:
        want.encode()
    except UnicodeEncodeError:
        with pytest.raises(ValueError):
            encode_payload(payload)
        return
    assert encode_payload(payload) == want


@settings(max_examples=25, deadline=None)
@given(value=json_values(WIDE_INTS))  # the edges themselves: the cases below
def test_the_utf8_text_is_json_dumps_byte_for_byte(value) -> None:
    assert sorted_compact(value, ascii_only=False) == _reference(value)
    _stored_as_before({"v": value})


@pytest.mark.parametrize("value", [
    {"\ue000": 1, "\U0001f600": 2, "\uffff": 3}, {"del": "\x7f", "ctl": "\x00\x1f\n"},
    {"lone": "\ud800"}, {"big": 2**64, "neg": -(2**63) - 1}, {"ls": "\u2028\u00e9"},
])
def test_the_values_where_orjson_alone_would_differ(value) -> None:
    assert sorted_compact(value, ascii_only=False) == _reference(value)
    _stored_as_before(value)
