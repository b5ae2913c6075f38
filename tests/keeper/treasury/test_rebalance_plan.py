"""The rebalancer: hand-computed plans, the minimum-balance refusal naming its constraint,
hysteresis (a wiggle inside the band does nothing, leaving it acts), costs, and properties
(units conserved per asset, minimums respected, every tier back within its inner band)."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keeper.audit import canonical_json
from keeper.treasury.moves import BPS, TIERS, Holding, Move, TierTarget
from keeper.treasury.rebalance import (
    Binding,
    CostModel,
    Hysteresis,
    apply_moves,
    drift_bps,
    plan_rebalance,
)
from keeper.treasury.rebalance.plan import inner_width

PRICES = {"ETH": 300_000, "BTC": 9_000_000, "USDC": 100, "USDT": 100}
COSTS = CostModel(prices_cents=PRICES)
TARGETS = [TierTarget("hot", 500), TierTarget("warm", 1500), TierTarget("cold", 8000)]
ALL = {a: TARGETS for a in PRICES}
HOT_FEE = 810  # 90,000 gas * 30 gwei = 0.0027 ETH at $3,000
COLD_FEE = 1_170  # 130,000 gas * 30 gwei at $3,000


def _estate(asset: str, hot: int, warm: int, cold: int, hot_min: int = 0) -> list[Holding]:
    return [Holding(asset, "vault", "hot", hot, hot_min), Holding(asset, "warm", "warm", warm),
            Holding(asset, "cold", "cold", cold)]


def _flows(plan):
    return [(p.move.source, p.move.destination, p.move.units) for p in plan.moves]


def test_hot_above_band_moves_just_enough_to_cold_at_one_fee():
    plan = plan_rebalance(_estate("USDC", 1_000, 1_500, 7_500), ALL, COSTS)
    (d,) = plan.decisions
    assert d.action == "rebalance" and d.triggered_by == ("hot", "cold")
    assert d.drift_before == {"hot": 500, "warm": 0, "cold": -500}
    # inner band 50 bps: hot down to 5.5 %, cold up to 79.5 %: 450 units, one sweep
    assert _flows(plan) == [("vault", "cold", 450)]
    assert d.drift_after == {"hot": 50, "warm": 0, "cold": -50}
    assert plan.cost_cents == HOT_FEE and not plan.moves[0].requires_quorum


def test_out_of_cold_is_a_quorum_move_and_costs_multisig_gas():
    plan = plan_rebalance(_estate("ETH", 0, 1_500, 8_500), ALL, COSTS)
    assert _flows(plan) == [("cold", "vault", 450)]  # hot up to 4.5 %, cold down to 80.5 %
    assert plan.moves[0].requires_quorum and plan.cost_cents == COLD_FEE


def test_two_sources_split_by_the_pluggable_tax_impact():
    class WarmIsTaxed:
        def cents(self, move: Move) -> int:
            return move.units if move.source_tier == "warm" else 0

    costs = CostModel(prices_cents=PRICES, tax=WarmIsTaxed())
    plan = plan_rebalance(_estate("USDT", 1_000, 2_000, 7_000), ALL, costs)
    # cold needs 950; warm gives only down to its inner edge (450), hot the rest (500)
    assert sorted(_flows(plan)) == [("vault", "cold", 500), ("warm", "cold", 450)]
    assert plan.cost_cents == HOT_FEE + COLD_FEE + 450


def test_a_tier_of_several_wallets_gives_from_the_most_spare_first_never_below_minimums():
    holdings = [Holding("USDC", "vault-a", "hot", 600, 500), Holding("USDC", "vault-b", "hot", 400),
                Holding("USDC", "warm", "warm", 1_500), Holding("USDC", "cold", "cold", 7_500)]
    plan = plan_rebalance(holdings, ALL, COSTS)
    assert _flows(plan) == [("vault-b", "cold", 400), ("vault-a", "cold", 50)]
    after = {h.wallet: h.units for h in apply_moves(holdings, [p.move for p in plan.moves])}
    assert after == {"vault-a": 550, "vault-b": 0, "warm": 1_500, "cold": 7_950}


def test_a_plan_below_a_wallet_minimum_is_refused_and_names_the_constraint():
    holdings = _estate("ETH", 1_000, 1_500, 7_500, hot_min=900) + _estate("USDC", 1_000, 1_500,
                                                                          7_500)
    plan = plan_rebalance(holdings, ALL, COSTS)
    eth, usdc = plan.decisions
    assert eth.action == "refused" and eth.moves == ()
    assert eth.binding == Binding("wallet_minimum", "ETH", "hot", "vault", required_units=450,
                                  available_units=100)
    assert plan.refused() == [eth.binding]
    assert usdc.action == "rebalance" and [p.move.asset for p in plan.moves] == ["USDC"]


def test_a_tier_that_must_receive_but_has_no_wallet_is_refused():
    holdings = [Holding("BTC", "btc-hot", "hot", 1_000), Holding("BTC", "btc-cold", "cold", 9_000)]
    (d,) = plan_rebalance(holdings, ALL, COSTS).decisions
    assert d.action == "refused" and d.binding is not None
    assert (d.binding.kind, d.binding.tier) == ("no_wallet", "warm")


def test_a_route_the_executor_cannot_carry_is_avoided_through_the_other_tier():
    estate = _estate("USDC", 0, 2_000, 8_000)  # hot -5 %, warm +5 %
    assert _flows(plan_rebalance(estate, ALL, COSTS)) == [("warm", "vault", 450)]
    no_warm_to_hot = lambda asset, src, dst: (src, dst) != ("warm", "hot")  # noqa: E731
    plan = plan_rebalance(estate, ALL, COSTS, routes=no_warm_to_hot)
    # warm gives to cold, cold tops hot up from what it already holds (not from what it gets)
    assert sorted(_flows(plan)) == [("cold", "vault", 450), ("warm", "cold", 450)]
    assert plan.cost_cents == 2 * COLD_FEE


def test_no_carriable_route_is_refused_naming_it():
    only_into_hot = lambda asset, src, dst: dst == "hot"  # noqa: E731
    plan = plan_rebalance(_estate("USDC", 1_000, 1_500, 7_500), ALL, COSTS, routes=only_into_hot)
    (d,) = plan.decisions
    assert d.action == "refused" and d.moves == () and d.binding is not None
    assert (d.binding.kind, d.binding.tier) == ("no_route", "hot")
    assert d.binding.to_tier in ("warm", "cold")


def test_hysteresis_a_wiggle_inside_the_band_does_nothing_leaving_it_acts():
    for hot in (690, 650, 310, 700):  # drift +190, +150, -190, +200: inside the 2 % band
        plan = plan_rebalance(_estate("USDC", hot, 1_500, 8_500 - hot), ALL, COSTS)
        assert plan.decisions[0].action == "hold" and plan.moves == []
    plan = plan_rebalance(_estate("USDC", 720, 1_500, 7_780), ALL, COSTS)  # +220: out
    assert _flows(plan) == [("vault", "cold", 170)]  # back to the inner edge, not to target
    after = apply_moves(_estate("USDC", 720, 1_500, 7_780), [p.move for p in plan.moves])
    wiggled = [Holding(h.asset, h.wallet, h.tier, h.units + (100 if h.tier == "hot" else 0))
               for h in after]  # +100 more deposits into hot: still inside the band
    assert plan_rebalance(wiggled, ALL, COSTS).moves == []


def test_inner_band_zero_goes_to_target_and_cooldown_holds_with_a_typed_binding():
    estate = _estate("USDC", 1_000, 1_500, 7_500)
    plan = plan_rebalance(estate, ALL, COSTS, Hysteresis(inner_bps=0))
    assert _flows(plan) == [("vault", "cold", 499)]  # to target within 1 bp (shares round down)
    held = plan_rebalance(estate, ALL, COSTS, cooling={"USDC"})
    assert held.moves == [] and held.decisions[0].binding == Binding("cooldown", "USDC")


def test_btc_fee_per_input_and_output_and_the_plan_is_auditable_json():
    plan = plan_rebalance(_estate("BTC", 1_000, 1_500, 7_500), ALL, COSTS)
    # (11 + 1 * 105 + 2 * 43) vB * 10 sat/vB = 2,020 sat at $90,000 = 181.8 -> 182 cents
    assert plan.cost_cents == 182
    text = canonical_json(plan.to_json())
    assert '"units":"450"' in text and '"kind"' not in text


def test_refuses_bad_input():
    with pytest.raises(ValueError, match="twice"):
        plan_rebalance(_estate("ETH", 1, 1, 1) + [Holding("ETH", "vault", "hot", 1)], ALL, COSTS)
    with pytest.raises(ValueError, match="no tier targets"):
        plan_rebalance(_estate("ETH", 1, 1, 1), {}, COSTS)
    with pytest.raises(ValueError, match="sum"):
        plan_rebalance(_estate("ETH", 1, 1, 1), {"ETH": [TierTarget("hot", 1),
                                                         TierTarget("warm", 1),
                                                         TierTarget("cold", 1)]}, COSTS)
    with pytest.raises(ValueError, match="integers"):
        plan_rebalance([Holding("ETH", "vault", "hot", 1.5)], ALL, COSTS)  # type: ignore[arg-type]


_wallet = st.tuples(st.integers(0, 10**9), st.integers(0, 10**8))
_ROUTES = [(a, b) for a in TIERS for b in TIERS if a != b]


@settings(max_examples=60, deadline=None)
@given(tiers=st.tuples(*(st.lists(_wallet, min_size=1, max_size=3) for _ in TIERS)),
       band=st.integers(50, 500), inner=st.integers(0, 500),
       routes=st.none() | st.sets(st.sampled_from(_ROUTES), min_size=2))
def test_every_plan_conserves_units_respects_minimums_and_lands_within_the_inner_band(
        tiers, band, inner, routes):
    holdings = [Holding("ETH", f"{tier}-{i}", tier, units, minimum)
                for tier, wallets in zip(TIERS, tiers, strict=True)
                for i, (units, minimum) in enumerate(wallets)]
    targets = {"ETH": [TierTarget(t.tier, t.share_bps, band) for t in TARGETS]}
    allowed = None if routes is None else (lambda asset, src, dst: (src, dst) in routes)
    plan = plan_rebalance(holdings, targets, COSTS, Hysteresis(inner), routes=allowed)
    (d,) = plan.decisions
    assert routes is None or all((p.move.source_tier, p.move.destination_tier) in routes
                                 for p in plan.moves)
    after = apply_moves(holdings, [p.move for p in plan.moves])
    assert sum(h.units for h in after) == sum(h.units for h in holdings)
    for was, now in zip(holdings, after, strict=True):
        assert now.units >= min(was.units, was.minimum_units)  # nobody pushed below a minimum
        assert now.units >= 0
    assert all(p.move.units > 0 and p.move.source != p.move.destination for p in plan.moves)
    units = defaultdict(int)
    for h in after:
        units[h.tier] += h.units
    tgt = {t.tier: t for t in targets["ETH"]}
    drift = drift_bps(units, tgt)
    if d.action == "rebalance":
        assert drift == dict(d.drift_after)
        assert all(abs(drift[t]) <= inner_width(inner, band) for t in TIERS)
    elif d.action == "hold":
        assert plan.moves == [] and d.binding is None
        assert d.total_units == 0 or all(abs(drift[t]) <= band for t in TIERS)
    else:
        assert plan.moves == [] and d.binding is not None and d.binding.kind in (
            "wallet_minimum", "band_infeasible", "no_route")
        if d.binding.kind == "band_infeasible":  # only amounts too small to split in bps
            assert d.total_units < 4 * BPS


def test_the_chain_executor_carries_evm_routes_only_so_btc_plans_are_refused_by_route():
    from keeper.treasury.rebalance import UnsupportedMoveError, carried
    from keeper.treasury.rebalance.executor import ChainMoveExecutor

    assert all(carried(a, s, d) for a in ("ETH", "USDC", "USDT")
               for s in TIERS for d in TIERS if s != d)
    assert not carried("BTC", "hot", "cold") and not carried("USDC", "hot", "hot")
    plan = plan_rebalance(_estate("BTC", 1_000, 1_500, 7_500), ALL, COSTS, routes=carried)
    assert plan.moves == [] and plan.refused()[0].kind == "no_route"
    executor = ChainMoveExecutor.__new__(ChainMoveExecutor)  # refuses before any I/O
    with pytest.raises(UnsupportedMoveError, match="BTC"):
        executor.execute(Move("BTC", "btc-hot", "hot", "btc-cold", "cold", 1, "rebalance"),
                         idempotency_key="k")
