"""The rules file is strict: unknown keys, wrong types and broken cross references are refused,
and the error names every bad field (not only the first)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from keeper.trading.jurisdiction import (
    DEFAULT_RULES_FILE,
    JurisdictionPolicy,
    RulesError,
    decode_rules,
    load_rules,
    parse_rules,
)
from keeper.trading.jurisdiction.__main__ import main


def small() -> dict[str, Any]:
    """A small, valid rules document written by hand."""
    return {
        "version": 1, "disclaimer": "test rules",
        "venues": {"alpha": {"region": "US"}, "beta": {"region": "GB"}, "red": {"region": "RU"}},
        "sanctioned_jurisdictions": {"codes": ["KP"]},
        "jurisdictions": {
            "US": {"name": "United States", "venues": ["alpha"], "blocked_venue_regions": ["RU"],
                   "symbols": ["BTC/USD"],
                   "client_types": {"retail": {"order_types": ["limit"],
                                               "max_order_notional": {"USD": 1000}}},
                   "travel_rule": {"currency": "USD", "threshold": 300000}},
            "default": {"name": "other", "venues": ["alpha", "beta"], "blocked_venue_regions": [],
                        "symbols": ["BTC/USD"],
                        "client_types": {"institutional": {"order_types": ["limit"],
                                                           "max_order_notional": None}},
                        "travel_rule": {"currency": "USD", "threshold": 100000}},
        },
    }


def refused(doc: Any) -> str:
    with pytest.raises(RulesError) as info:
        parse_rules(doc, "t.json")
    return str(info.value)


def test_packaged_rules_load_and_cover_the_sample_jurisdictions() -> None:
    rules = load_rules()
    assert {"US", "GB", "EU", "CH", "SG", "default"} <= set(rules.jurisdictions)
    assert "DE" in rules.jurisdictions["EU"].members
    assert "not legal advice" in rules.disclaimer
    assert rules.jurisdictions["US"].travel_rule.threshold == 300000  # USD 3,000.00
    assert all(rule.sources for key, rule in rules.jurisdictions.items())
    assert parse_rules(small()).jurisdictions["US"].venues == ["alpha"]


def test_unknown_keys_are_refused_and_every_one_is_named() -> None:
    doc = small()
    doc["extra"] = 1
    doc["venues"]["alpha"]["licence"] = "x"
    doc["jurisdictions"]["US"]["client_types"]["retail"]["leverage"] = 2
    msg = refused(doc)
    assert "t.json" in msg
    for path in ("extra", "venues.alpha.licence", "jurisdictions.US.client_types.retail.leverage"):
        assert path in msg


@pytest.mark.parametrize("value", [1000.0, True, "1000", -1])
def test_limits_and_thresholds_are_non_negative_integers_only(value: Any) -> None:
    doc = small()
    doc["jurisdictions"]["US"]["client_types"]["retail"]["max_order_notional"]["USD"] = value
    doc["jurisdictions"]["US"]["travel_rule"]["threshold"] = value
    msg = refused(doc)
    assert "jurisdictions.US.client_types.retail.max_order_notional" in msg
    assert "jurisdictions.US.travel_rule.threshold" in msg


def test_codes_names_and_order_types_have_their_shapes() -> None:
    doc = small()
    doc["venues"]["alpha"]["region"] = "usa"
    doc["jurisdictions"]["us"] = doc["jurisdictions"].pop("US")
    doc["jurisdictions"]["default"]["client_types"]["institutional"]["order_types"] = ["stop"]
    doc["jurisdictions"]["default"]["client_types"]["Bad Type!"] = {"order_types": ["limit"],
                                                                    "max_order_notional": None}
    msg = refused(doc)
    for path in ("venues.alpha.region", "jurisdictions.us", "client_types.institutional.order_types.0",
                 "client_types.Bad Type!"):
        assert path in msg


def test_cross_references_are_checked_and_every_fault_named() -> None:
    doc = small()
    us = doc["jurisdictions"]["US"]
    us["venues"] = ["alpha", "ghost", "red", "alpha"]
    us["symbols"] = ["BTC/USD", "DOGE/USD"]
    us["members"] = ["KP", "CA"]
    doc["jurisdictions"]["CA"] = copy.deepcopy(doc["jurisdictions"]["default"]) | {"name": "Canada"}
    doc["version"] = 2
    msg = refused(doc)
    for fault in ("version: 2", "jurisdictions.US.venues: unknown venue 'ghost'",
                  "jurisdictions.US.venues: 'red' is in blocked region RU",
                  "jurisdictions.US.venues: listed twice",
                  "jurisdictions.US.symbols: unknown market 'DOGE/USD'",
                  "jurisdictions.US: KP is a sanctioned jurisdiction", "CA is also governed by"):
        assert fault in msg, fault


def test_a_default_entry_is_required_and_has_no_members() -> None:
    doc = small()
    doc["jurisdictions"].pop("default")
    assert "no 'default' entry" in refused(doc)
    doc = small()
    doc["jurisdictions"]["default"]["members"] = ["FR"]
    assert "jurisdictions.default.members" in refused(doc)


def test_a_limit_in_a_currency_no_market_uses_is_refused() -> None:
    doc = small()
    doc["jurisdictions"]["US"]["client_types"]["retail"]["max_order_notional"] = {"EUR": 5}
    assert "no market is quoted in EUR" in refused(doc)


def test_json_text_faults_duplicates_and_constants_are_refused(tmp_path: Path) -> None:
    text = json.dumps(small())
    dup = text.replace('"version": 1,', '"version": 1, "version": 1,')
    with pytest.raises(RulesError, match="'version' appears twice"):
        decode_rules(dup, "dup.json")
    nan = text.replace('"threshold": 300000', '"threshold": NaN')
    with pytest.raises(RulesError, match="NaN"):
        decode_rules(nan)
    with pytest.raises(RulesError, match="not valid JSON"):
        decode_rules(text[:-3])
    with pytest.raises(RulesError, match="cannot be read"):
        load_rules(tmp_path / "missing.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(RulesError, match="cannot be read"):
        load_rules(tmp_path / "bin.json")
    assert refused([1, 2]).startswith("jurisdiction rules t.json refused")


def test_cli_validates_names_faults_shows_and_checks(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 0
    assert f"sha256 {JurisdictionPolicy().digest}" in capsys.readouterr().out
    bad = small()
    bad["venues"]["alpha"]["region"] = 7
    bad["jurisdictions"]["US"]["symbols"] = ["NOPE/USD"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    assert main(["validate", "--rules", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "venues.alpha.region" in err
    assert main(["show", "FR"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["governed_by"] == "EU" and "USDT/USD" not in shown["symbols"]
    order = {"id": "o1", "client_id": "c1", "symbol": "USDT/USD", "side": "buy", "amount": 10**6,
             "limit_price": 100, "jurisdiction": "DE", "client_type": "retail", "created_at": 0}
    assert main(["check", json.dumps(order)]) == 1
    assert json.loads(capsys.readouterr().out)["rule"] == "EU.symbols"
    assert main(["check", json.dumps(order | {"symbol": "BTC/USD"})]) == 0
    assert json.loads(capsys.readouterr().out)["allowed"] is True
    assert main(["check", json.dumps(order | {"amount": 1.5})]) == 2
    assert main(["check", "[" * 100000]) == 2
    assert DEFAULT_RULES_FILE.name == "rules.json"


def test_deeply_nested_json_is_refused_where_the_recursion_limit_is_raised(tmp_path: Path) -> None:
    """py-evm/py_ecc (imported with web3 and ape) raise the recursion limit to 100,000: there the C
    JSON decoder overflows the C stack on ``[[[[...`` and kills the process instead of raising."""
    src = tmp_path / "deep.json"
    src.write_text("[" * 200_000)
    code = ("import sys; sys.setrecursionlimit(200_000); "
            "from keeper.trading.jurisdiction.__main__ import main; "
            f"a = main(['validate', '--rules', {str(src)!r}]); b = main(['check', '[' * 200_000]); "
            "sys.exit(10 * a + b)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 22, done.stderr[-500:]
    assert done.stderr.count("nesting deeper than") == 2
