"""The canonical encoding: what is hashed is exactly canonical JSON of the envelope; values JSON
tools could read differently (floats, integers beyond 2**53, non-string keys) are refused."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keeper.audit import AuditRecord, AuditRecordError, batch_records, canonical_json, unbatch
from keeper.audit.records import MAX_RECORD_BYTES, MAX_SAFE_INT, envelope, record_hash

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INT, MAX_SAFE_INT) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=60)
@given(params=_json, result=_json, seq=st.integers(1, 2**62),
       actor=st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF), min_size=1, max_size=30)
       .filter(str.isprintable))
def test_envelope_is_the_canonical_json_of_the_record(params, result, seq, actor) -> None:
    rec = AuditRecord(actor, "op", params, result)
    encoded = rec.encode()
    prev = hashlib.sha256(actor.encode()).hexdigest()
    line = envelope(prev, encoded, seq)
    parsed = json.loads(line)
    assert line == json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert parsed["prev"] == prev and parsed["seq"] == seq
    assert parsed["record"]["params"] == params and parsed["record"]["actor"] == actor
    assert line.isascii()
    assert record_hash(line) == hashlib.sha256(line.encode()).hexdigest()


@pytest.mark.parametrize("value", [1.5, float("nan"), Decimal("1"), 2**53, -(2**53), {1: "x"},
                                   {"a": [1, 2.0]}, b"bytes", {"deep": set()}])
def test_values_jq_would_misread_are_refused(value) -> None:
    with pytest.raises(AuditRecordError):
        canonical_json(value)
    with pytest.raises(AuditRecordError):
        AuditRecord("a", "op", {"v": value}).encode()


def test_amounts_beyond_2_53_travel_as_decimal_strings() -> None:
    wei = 10**21 + 1
    text = AuditRecord("a", "op", {"amount": str(wei)}).encode()
    assert int(json.loads(text)["params"]["amount"]) == wei


@pytest.mark.parametrize("actor", ["", "x" * 201, "bad\nname", "nul\x00"])
def test_bad_names_are_refused(actor: str) -> None:
    with pytest.raises(AuditRecordError):
        AuditRecord(actor, "op").encode()
    with pytest.raises(AuditRecordError):
        AuditRecord("a", actor).encode()


def test_oversized_and_naive_time_records_are_refused() -> None:
    with pytest.raises(AuditRecordError, match="bytes"):
        AuditRecord("a", "op", {"blob": "x" * MAX_RECORD_BYTES}).encode()
    with pytest.raises(AuditRecordError, match="timezone"):
        AuditRecord("a", "op", at=datetime(2026, 1, 1)).encode()  # noqa: DTZ001


def test_a_refusal_names_the_first_bad_value_in_document_order() -> None:
    """The checker (iterative, leaves checked in place) says where the first bad value is, at
    any depth, and refuses nesting deeper than 32 levels while accepting 32."""
    value = {"a": [1, "x", {"b": None}], "b": [True, {"c": [2.5]}], "c": 1.5}
    with pytest.raises(AuditRecordError, match=r"^\$\.b\[1\]\.c\[0\]: float is not allowed"):
        canonical_json(value)
    with pytest.raises(AuditRecordError, match=r"^\$\.k\[0\]: integer beyond"):
        canonical_json({"k": [2**60, 1.0]})
    with pytest.raises(AuditRecordError, match=r"^\$\.z: object key 3"):
        canonical_json({"z": {3: "x"}})
    nested: object = "leaf"
    for _ in range(32):
        nested = [nested]
    assert canonical_json(nested) == "[" * 32 + '"leaf"' + "]" * 32
    with pytest.raises(AuditRecordError, match="nested deeper than 32"):
        canonical_json([nested])


def test_batch_records_fold_consecutive_runs_and_unbatch_reads_them_back() -> None:
    """Runs of one actor and operation fold into ``<op>.batch`` records of at most ``size``
    items, in order (another operation between them starts a new run); a run of one stays."""
    recs = ([AuditRecord("flows", "a", {"n": i}, {"ok": i}) for i in range(5)]
            + [AuditRecord("flows", "b", {"n": 9}, None)]
            + [AuditRecord("other", "a", {"n": i}, {"ok": i}) for i in range(2)])
    folded = batch_records(recs, size=2)
    assert [(r.actor, r.operation, len(r.params.get("items", [0]))) for r in folded] == [
        ("flows", "a.batch", 2), ("flows", "a.batch", 2), ("flows", "a", 1), ("flows", "b", 1),
        ("other", "a.batch", 2)]
    back = [x for r in folded for x in unbatch(json.loads(r.encode()))]
    assert [(x["actor"], x["operation"], x["params"], x["result"]) for x in back] == [
        (r.actor, r.operation, r.params, r.result) for r in recs]
