"""Each rule at its threshold and on either side of it (pure engine, rules file as data)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from keeper.compliance.rules_engine import Movement, RulesError, RuleSet, evaluate

T0 = datetime(2026, 11, 23, 12, tzinfo=UTC)
RULES = RuleSet.load()


def mv(i: int, cents: int, at: datetime = T0, kind: str = "deposit", **kw) -> Movement:
    return Movement(f"m{i}", "c1", kind, "USDC", cents * 10_000, cents, at, **kw)


def ids(tx: Movement, hist: list[Movement]) -> set[str]:
    return {h.rule_id for h in evaluate(RULES, tx, hist)}


@pytest.mark.parametrize(
    ("cents", "fires"), [(899_999, False), (900_000, True), (999_999, True), (1_000_000, False)]
)
def test_r001_band_edges(cents: int, fires: bool) -> None:
    hist = [mv(1, 900_000, T0 - timedelta(hours=2)), mv(2, 950_000, T0 - timedelta(hours=1))]
    assert ("R001" in ids(mv(3, cents), hist)) is fires


@pytest.mark.parametrize(
    ("age", "fires"), [(timedelta(hours=24) - timedelta(seconds=1), True), (timedelta(hours=24), False)]
)
def test_r001_window_and_count(age: timedelta, fires: bool) -> None:
    hist = [mv(1, 900_000, T0 - age), mv(2, 950_000, T0 - timedelta(hours=1))]
    assert ("R001" in ids(mv(3, 910_000), hist)) is fires
    assert "R001" not in ids(mv(3, 910_000), hist[1:])  # two only


@pytest.mark.parametrize(
    ("gap", "fires"), [(timedelta(minutes=59, seconds=59), True), (timedelta(hours=1), False)]
)
def test_r002_rapid_in_out(gap: timedelta, fires: bool) -> None:
    hist = [mv(1, 100, T0 - gap, kind="buy")]
    assert ("R002" in ids(mv(2, 100, kind="withdrawal"), hist)) is fires
    assert "R002" not in ids(mv(2, 100, kind="deposit"), hist)


@pytest.mark.parametrize(("country", "fires"), [("IR", True), ("ir", True), ("DE", False), (None, False)])
def test_r003_geography_any_amount(country: str | None, fires: bool) -> None:
    assert ("R003" in ids(mv(1, 1, country=country), [])) is fires


@pytest.mark.parametrize(("cents", "fires"), [(499_999, False), (500_000, False), (500_001, True)])
def test_r004_ctr_over_10k_in_24h(cents: int, fires: bool) -> None:
    hist = [mv(1, 500_000, T0 - timedelta(hours=23))]
    assert ("R004" in ids(mv(2, cents), hist)) is fires


@pytest.mark.parametrize(("labels", "fires"), [({"mixer"}, True), ({"exchange"}, False), (set(), False)])
def test_r005_mixer_destination(labels: set[str], fires: bool) -> None:
    tx = mv(1, 100, kind="withdrawal", address="0x" + "ab" * 20, address_labels=frozenset(labels))
    assert ("R005" in ids(tx, [])) is fires


@pytest.mark.parametrize(("cents", "fires"), [(9_999, False), (10_000, True), (10_001, True)])
def test_r006_tenfold_baseline(cents: int, fires: bool) -> None:
    hist = [mv(i, 1_000, T0 - timedelta(days=i)) for i in range(1, 4)]  # mean $10.00
    assert ("R006" in ids(mv(9, cents), hist)) is fires
    assert "R006" not in ids(mv(9, cents), hist[:2])  # too little history


def test_unknown_rule_or_action_refused() -> None:
    with pytest.raises(RulesError):
        RuleSet.parse(
            '{"version": 1, "rules": [{"id": "R999", "description": "", "action": "alert", '
            '"parameters": {}}]}'
        )
    with pytest.raises(RulesError):
        RuleSet.parse(
            '{"version": 1, "rules": [{"id": "R001", "description": "", "action": "nuke", "parameters": {}}]}'
        )


@pytest.mark.parametrize("params", [{}, {"window_s": "86400", "above_cents": 1000000},
                                    {"window_s": 86400, "above_cents": 10.5},
                                    {"window_s": -1, "above_cents": 1000000}])
def test_malformed_parameters_refused_at_load(params: dict) -> None:
    rule = {"id": "R004", "description": "", "action": "file_ctr", "parameters": params}
    doc = {"version": 3, "rules": [rule]}
    with pytest.raises(RulesError):
        RuleSet.parse(json.dumps(doc))


def test_r003_countries_in_the_file_match_whatever_their_case() -> None:
    rule = {"id": "R003", "description": "", "action": "block_sar", "parameters": {"countries": ["ir"]}}
    lower = RuleSet.parse(json.dumps({"version": 4, "rules": [rule]}))
    assert [h.rule_id for h in evaluate(lower, mv(1, 1, country="IR"), [])] == ["R003"]
