"""The texts flows, compliance and notifications store (order data, outbox payloads, request
fingerprints, screening details, client notices) are byte for byte what ``json.dumps`` with their
documented options gives: encoders built once and texts reused within a batch change nothing."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from keeper.compliance import service as compliance_service
from keeper.flows import store
from keeper.notifications.outbox import encode_payload

_text = st.text(max_size=6)  # non-ASCII, quotes, control characters
_json = st.recursive(st.none() | st.booleans() | st.integers() | _text,
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(_text, inner, max_size=3), max_leaves=12)
_at = st.datetimes(timezones=st.just(UTC))


@settings(max_examples=25)
@given(body=st.dictionaries(_text, _json | _at, max_size=4),
       flat=st.lists(st.dictionaries(st.sampled_from(["to", "b", "é"]), _text, max_size=2),
                     max_size=6))
def test_stored_texts_are_json_dumps_with_their_options(body: dict, flat: list[dict]) -> None:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"),
                                       default=str).encode()).hexdigest()
    assert store.fingerprint(body) == digest
    plain = {k: v for k, v in body.items() if not isinstance(v, datetime)}
    assert compliance_service._SORTED(plain) == json.dumps(plain, sort_keys=True)
    assert encode_payload(plain) == json.dumps(plain, sort_keys=True, separators=(",", ":"),
                                               ensure_ascii=False)
    # an order's outbox payload is only read back with json.loads: compact, sorted, same value
    assert json.loads(store.outbox_payload(plain)) == plain
    assert store.outbox_payload(plain) == encode_payload(plain)
    memo: dict = {}
    for data in [*flat, *flat, plain]:  # repeated objects come from the batch's memo
        assert store._encoded(data, memo) == json.dumps(data, sort_keys=True)
