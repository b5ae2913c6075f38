"""Each rule kind blocks and allows exactly as written (small rules written by hand), a blocked
child names its rule, and the packaged sample rules behave as their notes say."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keeper.trading.jurisdiction import JurisdictionPolicy, parse_rules
from keeper.trading.types import ChildIntent, ExecutionPolicy, OrderType, ParentOrder, Side


def rules_doc() -> dict[str, Any]:
    return {
        "version": 1, "disclaimer": "test rules",
        "venues": {"alpha": {"region": "US"}, "beta": {"region": "GB"}, "red": {"region": "RU"},
                   "gamma": {"region": "SC"}},
        "sanctioned_jurisdictions": {"codes": ["KP"]},
        "jurisdictions": {
            "US": {"name": "United States", "venues": ["alpha", "beta"], "blocked_venue_regions": ["RU"],
                   "symbols": ["BTC/USD", "ETH/USD"],
                   "client_types": {
                       "retail": {"order_types": ["limit"], "max_order_notional": {"USD": 100_000}},
                       "odd": {"order_types": ["limit"], "max_order_notional": {}},
                       "institutional": {"order_types": ["limit", "market"], "max_order_notional": None}},
                   "travel_rule": {"currency": "USD", "threshold": 300_000}},
            "EU": {"name": "EU", "members": ["DE", "FR"], "venues": ["beta"], "blocked_venue_regions": ["RU"],
                   "symbols": ["BTC/USD"],
                   "client_types": {"retail": {"order_types": ["limit", "market"],
                                               "max_order_notional": {"USD": 50_000}}},
                   "travel_rule": {"currency": "EUR", "threshold": 0}},
            "NO": {"name": "nowhere to trade", "venues": [], "blocked_venue_regions": [],
                   "symbols": ["BTC/USD"],
                   "client_types": {"retail": {"order_types": ["limit"], "max_order_notional": None}},
                   "travel_rule": {"currency": "USD", "threshold": 0}},
            "default": {"name": "other", "venues": ["alpha", "red"], "blocked_venue_regions": [],
                        "symbols": ["BTC/USD"],
                        "client_types": {"institutional": {"order_types": ["limit"],
                                                           "max_order_notional": None}},
                        "travel_rule": {"currency": "USD", "threshold": 100_000}},
        },
    }


POLICY = JurisdictionPolicy(parse_rules(rules_doc()))
# 0.001 BTC at USD 1,000.00 (100,000 cents): notional 100 cents
BASE = ChildIntent(parent_id="p1", client_id="c1", jurisdiction="US", client_type="retail", venue="alpha",
                   symbol="BTC/USD", side=Side.BUY, type=OrderType.LIMIT, amount=100_000, price=100_000,
                   notional=100)


def decide(**changes: Any) -> tuple[bool, str, str]:
    d = POLICY.check(replace(BASE, **changes))
    return d.allowed, d.rule, d.reason


def test_it_is_an_execution_policy_and_allows_what_the_rules_allow() -> None:
    assert isinstance(POLICY, ExecutionPolicy)
    assert decide() == (True, "", "")
    assert decide(venue="beta", side=Side.SELL, symbol="ETH/USD")[0]


@pytest.mark.parametrize("code", ["us", "USA", "", "U1", "ÜS", None, 12])
def test_a_malformed_jurisdiction_is_refused(code: Any) -> None:
    allowed, rule, _ = decide(jurisdiction=code)
    assert (allowed, rule) == (False, "jurisdiction")
    assert POLICY.allowed_venues(code) == frozenset()


def test_a_sanctioned_jurisdiction_may_not_trade_at_all() -> None:
    assert decide(jurisdiction="KP", client_type="institutional")[:2] == (False, "sanctioned_jurisdictions")
    assert POLICY.allowed_venues("KP") == frozenset()


def test_group_members_and_the_default_govern_codes_without_their_own_entry() -> None:
    assert POLICY.governing("DE") == "EU" and POLICY.governing("JP") == "default"
    assert POLICY.governing(["DE"]) == "default"  # type: ignore[arg-type]
    assert decide(jurisdiction="DE", venue="beta")[0]
    assert decide(jurisdiction="FR", venue="alpha")[:2] == (False, "EU.venues")
    assert decide(jurisdiction="JP")[:2] == (False, "default.client_types")
    assert decide(jurisdiction="JP", client_type="institutional")[0]


def test_client_types_not_listed_are_refused() -> None:
    allowed, rule, reason = decide(client_type="professional")
    assert (allowed, rule) == (False, "US.client_types") and "'professional'" in reason
    assert decide(client_type=["unhashable"])[:2] == (False, "US.client_types")


def test_symbols_not_listed_are_refused() -> None:
    assert decide(symbol="USDT/USD")[:2] == (False, "US.symbols")  # a market, but not allowed in US here
    assert decide(symbol="DOGE/USD")[:2] == (False, "order")  # not a market at all
    assert decide(jurisdiction="DE", venue="beta", symbol="ETH/USD")[:2] == (False, "EU.symbols")


def test_order_types_are_per_client_type() -> None:
    assert decide(type=OrderType.MARKET)[:2] == (False, "US.client_types.retail.order_types")
    assert decide(type=OrderType.MARKET, client_type="institutional")[0]
    assert decide(type="stop")[:2] == (False, "order")


def test_the_notional_limit_allows_up_to_and_including_the_limit() -> None:
    assert decide(notional=100_000)[0]
    allowed, rule, reason = decide(notional=100_001)
    assert (allowed, rule) == (False, "US.client_types.retail.max_order_notional")
    assert "100001" in reason and "100000" in reason
    assert decide(notional=10**15, client_type="institutional")[0]  # null: no limit
    # a limit table without the quote currency is refused, never read as unlimited
    assert decide(client_type="odd")[:2] == (False, "US.client_types.odd.max_order_notional")


def test_venues_unknown_blocked_by_region_or_not_allowed_are_refused_and_say_which() -> None:
    assert decide(venue="nowhere")[:2] == (False, "venues")
    assert decide(venue={"x": 1})[:2] == (False, "venues")
    allowed, rule, reason = decide(venue="red")
    assert (allowed, rule) == (False, "US.blocked_venue_regions") and "RU" in reason
    assert decide(venue="gamma")[:2] == (False, "US.venues")
    assert POLICY.allowed_venues("US") == frozenset({"alpha", "beta"})
    # the default entry allows 'red' and blocks no region: allowed there
    assert decide(jurisdiction="JP", client_type="institutional", venue="red")[0]


@pytest.mark.parametrize("changes", [{"amount": 0}, {"amount": -5}, {"notional": 0}, {"amount": True},
                                     {"notional": 1.0}])
def test_non_positive_or_non_integer_amounts_are_refused(changes: dict[str, Any]) -> None:
    assert decide(**changes)[:2] == (False, "order")


def parent(**changes: Any) -> ParentOrder:
    base = ParentOrder(id="p1", client_id="c1", symbol="BTC/USD", side=Side.BUY, amount=100_000_000,
                       limit_price=100_000, jurisdiction="US", client_type="retail", created_at=0)
    return replace(base, **changes)


def test_pre_trade_check_refuses_a_forbidden_order_before_routing() -> None:
    assert POLICY.check_order(parent()).allowed  # 1 BTC at 1,000.00: 100,000 cents, the limit
    d = POLICY.check_order(parent(amount=100_000_001))  # one satoshi more: 100,000 cents (floor): allowed
    assert d.allowed
    d = POLICY.check_order(parent(limit_price=100_001))
    assert (d.allowed, d.rule) == (False, "US.client_types.retail.max_order_notional")
    assert POLICY.check_order(parent(symbol="USDT/USD")).rule == "US.symbols"
    assert POLICY.check_order(parent(client_type="professional")).rule == "US.client_types"
    assert POLICY.check_order(parent(jurisdiction="KP")).rule == "sanctioned_jurisdictions"
    assert POLICY.check_order(parent(amount=0)).rule == "order"
    assert POLICY.check_order(parent(limit_price=0)).rule == "order"
    assert POLICY.check_order(parent(symbol=["x"])).rule == "order"
    # no venue allowed at all: refused before routing
    assert POLICY.check_order(parent(jurisdiction="NO")).rule == "NO.venues"


def test_a_market_order_needs_an_estimate_when_its_client_type_has_a_limit() -> None:
    d = POLICY.check_order(parent(jurisdiction="DE"), None)  # limit order: notional from its limit price
    assert (d.allowed, d.rule) == (False, "EU.client_types.retail.max_order_notional")
    market = parent(jurisdiction="DE", limit_price=None)
    assert POLICY.check_order(market).rule == "EU.client_types.retail.max_order_notional"
    assert "unknown" in POLICY.check_order(market).reason
    assert POLICY.check_order(market, estimated_notional=50_000).allowed
    assert not POLICY.check_order(market, estimated_notional=50_001).allowed
    assert POLICY.check_order(parent(limit_price=None)).rule == "US.client_types.retail.order_types"
    assert POLICY.check_order(parent(limit_price=None, client_type="institutional")).allowed


def test_travel_rule_thresholds_apply_at_or_above() -> None:
    assert not POLICY.travel_rule("US", 299_999, "USD").required
    at = POLICY.travel_rule("US", 300_000, "USD")
    assert at.required and at.rule == "US.travel_rule" and at.threshold == 300_000
    assert POLICY.travel_rule("DE", 1, "EUR").required  # EU: no de minimis
    assert POLICY.travel_rule("JP", 99_999, "USD").required is False
    assert POLICY.travel_rule("JP", 1, "GBP").required  # another currency: the conservative answer


def test_the_packaged_sample_rules_behave_as_their_notes_say() -> None:
    policy = JurisdictionPolicy()
    us = replace(BASE, venue="deepbook", amount=10**8, price=6_500_000, notional=6_500_000)
    assert policy.check(us).allowed
    assert policy.check(replace(us, venue="thirdex")).rule == "US.venues"
    assert policy.check(replace(us, venue="eastbridge")).rule == "US.blocked_venue_regions"
    assert policy.check(replace(us, jurisdiction="DE", symbol="USDT/USD")).rule == "EU.symbols"
    assert policy.check(replace(us, jurisdiction="CH", venue="thirdex")).allowed
    assert policy.check(replace(us, jurisdiction="IR")).rule == "sanctioned_jurisdictions"
    assert policy.check(replace(us, notional=25_000_001)).rule == "US.client_types.retail.max_order_notional"
    assert policy.travel_rule("US", 300_000, "USD").required
    assert not policy.travel_rule("US", 299_999, "USD").required
    assert policy.travel_rule("SG", 149_999, "SGD").required is False


@given(jurisdiction=st.sampled_from(["US", "DE", "FR", "JP", "KP", "NO", "us", ""]),
       client_type=st.sampled_from(["retail", "institutional", "odd", "professional"]),
       venue=st.sampled_from(["alpha", "beta", "gamma", "red", "zzz"]),
       symbol=st.sampled_from(["BTC/USD", "ETH/USD", "USDT/USD", "X"]),
       type_=st.sampled_from(list(OrderType)), notional=st.integers(-1, 200_000))
def test_an_allowed_child_satisfies_every_rule_kind(jurisdiction: str, client_type: str, venue: str,
                                                    symbol: str, type_: OrderType, notional: int) -> None:
    intent = replace(BASE, jurisdiction=jurisdiction, client_type=client_type, venue=venue, symbol=symbol,
                     type=type_, notional=notional)
    d = POLICY.check(intent)
    assert d == POLICY.check(intent)  # deterministic
    assert d.allowed == (d.rule == "")
    if d.allowed:
        rule = POLICY.rules.jurisdictions[POLICY.governing(jurisdiction)]
        ct = rule.client_types[client_type]
        assert venue in POLICY.allowed_venues(jurisdiction) and symbol in rule.symbols
        assert str(type_) in ct.order_types and notional > 0
        assert ct.max_order_notional is None or notional <= ct.max_order_notional["USD"]


@pytest.mark.parametrize("estimate", [50_000.0, True, "50000", -1, 0])
def test_an_estimate_that_is_not_a_positive_integer_is_refused(estimate: Any) -> None:
    market = parent(jurisdiction="DE", limit_price=None)
    d = POLICY.check_order(market, estimated_notional=estimate)
    assert (d.allowed, d.rule) == (False, "order")


@pytest.mark.parametrize("amount", [1.5, "300000", None, True])
def test_a_travel_rule_amount_that_is_not_an_integer_gets_the_conservative_answer(amount: Any) -> None:
    assert POLICY.travel_rule("US", amount, "USD").required
    assert POLICY.travel_rule(["US"], 1, "USD").rule == "default.travel_rule"  # type: ignore[arg-type]


def test_the_rules_digest_names_the_rule_set_in_force() -> None:
    doc = rules_doc()
    same = JurisdictionPolicy(parse_rules(rules_doc()))
    assert POLICY.digest == same.digest and len(POLICY.digest) == 64
    doc["jurisdictions"]["US"]["client_types"]["retail"]["max_order_notional"]["USD"] = 100_001
    assert JurisdictionPolicy(parse_rules(doc)).digest != POLICY.digest
    assert JurisdictionPolicy().digest != POLICY.digest
