"""Labelled address lists: CSV and JSON imports, versioned and atomic, feeding address risk; and
the one builder of the gate from Settings (rules file, sanctions lists, labelled lists)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from keeper.compliance import (
    LabelStore,
    ListFormatError,
    ListShrinkError,
    Movement,
    RulesError,
    from_settings,
    parse_labels,
)
from keeper.compliance.rules_engine import DEFAULT_RULES_FILE
from keeper.config import Settings

MIXER = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01"
DARK = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
EXCHANGE = "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
T0 = datetime(2026, 11, 23, 12, tzinfo=UTC)


def csv_list(rows: list[tuple[str, str, str, str]], count: int | None = None) -> bytes:
    lines = ["address,chain,label,source", *(",".join(r) for r in rows),
             f"__end__,{len(rows) if count is None else count}"]
    return ("\n".join(lines) + "\n").encode()


GOOD = [(MIXER, "ETH", "mixer", "internal forensics"), (DARK, "btc", "darknet", "vendor X"),
        (EXCHANGE, "BTC", "exchange", "vendor X")]


def test_csv_and_json_parse_to_normalised_addresses() -> None:
    from_csv = parse_labels(csv_list(GOOD), "csv")
    doc = {"format": "strongroom-labels/1",
           "addresses": [dict(zip(("address", "chain", "label", "source"), r, strict=True)) for r in GOOD]}
    from_json = parse_labels(json.dumps(doc).encode(), "json")
    assert from_csv == from_json
    assert [(a.address, a.chain, a.label) for a in from_csv] == [
        (MIXER.lower(), "ETH", "mixer"), (DARK, "BTC", "darknet"), (EXCHANGE, "BTC", "exchange")]


@pytest.mark.parametrize("data,fmt", [
    (csv_list(GOOD)[:-12], "csv"),  # cut: end marker missing
    (csv_list(GOOD, count=5), "csv"),  # end marker counts other rows
    (csv_list([(MIXER, "ETH", "casino", "x")]), "csv"),  # unknown label
    (csv_list([(MIXER, "BTC", "mixer", "x")]), "csv"),  # ETH address said to be BTC
    (csv_list([("0x12", "ETH", "mixer", "x")]), "csv"),
    (csv_list([(EXCHANGE.replace("1", "l", 2), "BTC", "mixer", "x")]), "csv"),  # not base58
    (csv_list([(MIXER, "ETH", "mixer", "")]), "csv"),
    (b"address,chain,label\n__end__,0\n", "csv"),
    (b"\xff\xfe", "csv"),
    (b'{"format": "strongroom-labels/1", "addresses": [{"address": 1}]}', "json"),
    (b'{"format": "strongroom-labels/1", "addresses": [', "json"),
    (b'[]', "json"),
    (b"[" * 100_000, "json"),  # hostile nesting
    (csv_list(GOOD), "xml"),
])
def test_malformed_lists_are_refused_and_the_current_stays(engine: Engine, data: bytes, fmt: str) -> None:
    store = LabelStore(engine)
    store.import_list("forensics", csv_list(GOOD), "csv")
    with pytest.raises(ListFormatError):
        store.import_list("forensics", data, fmt)
    assert [v[:3] for v in store.versions("forensics")] == [(1, True, 3)]
    assert store.current_labels() == {"mixer": {MIXER.lower()}, "darknet": {DARK},
                                      "exchange": {EXCHANGE}}


def test_imports_are_versioned_and_a_partial_list_is_refused(engine: Engine) -> None:
    store = LabelStore(engine)
    first = store.import_list("forensics", csv_list(GOOD), "csv")
    assert store.import_list("forensics", csv_list(GOOD), "csv").version == first.version == 1
    with pytest.raises(ListShrinkError):
        store.import_list("forensics", csv_list(GOOD[:1]), "csv")
    second = store.import_list("forensics", csv_list(GOOD[:1]), "csv", allow_shrink=True)
    assert second.version == 2
    assert [(v, cur, n) for v, cur, n, _ in store.versions("forensics")] == [(1, False, 3), (2, True, 1)]
    store.import_list("other", csv_list([(DARK, "BTC", "mixer", "partner")]), "csv")
    assert store.current_labels() == {"mixer": {MIXER.lower(), DARK}}
    with pytest.raises(ListFormatError):
        store.import_list("../etc", csv_list(GOOD), "csv")


def test_from_settings_uses_the_rules_file_and_the_labelled_lists(db: Engine, tmp_path: Path) -> None:
    LabelStore(db).import_list("forensics", csv_list(GOOD), "csv")
    rules = json.loads(DEFAULT_RULES_FILE.read_text())
    rules["version"] = 7
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules))
    gate = from_settings(db, Settings(compliance_rules_file=path))
    v = gate.screen(Movement("w1", "c1", "withdrawal", "ETH", 10**18, 300_000, T0, address=MIXER))
    assert v.outcome == "block" and v.rules_version == 7
    assert {h.rule_id for h in v.rule_hits} == {"R005"}  # labelled mixer from the imported list
    path.write_text('{"version": 8, "rules": [{"id": "R999"}]}')
    with pytest.raises(RulesError):
        from_settings(db, Settings(compliance_rules_file=path))
