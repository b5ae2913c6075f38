"""The pooling planner: never below a minimum (gas reserved at the cap), dust skipped with the
figures, gas top-ups only where worth it, integer amounts, the wallet-count reduction."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keeper.treasury.moves import Holding
from keeper.treasury.pooling import PoolCosts, operational_wallets, plan_pool, reduction_bps

GWEI = 10**9
ETHER = 10**18
USD = 10**6  # one USDC
COSTS = PoolCosts(max_fee_wei=20 * GWEI, prices_cents={"ETH": 300_000, "USDC": 100})
DEST, FUND = "0xdest", "0xfund"


def _h(wallet: str, asset: str, units: int, minimum: int = 0) -> Holding:
    return Holding(asset, wallet, "hot", units, minimum)


def _after(holdings, plan, costs=COSTS):
    """Worst-case balances after the plan: every transaction's gas charged at the cap."""
    bal = defaultdict(int)
    for h in holdings:
        bal[(h.wallet, h.asset)] = h.units
    for p in plan.moves:
        m = p.move
        gas = costs.native_gas if m.asset == "ETH" else costs.token_gas
        bal[(m.source, m.asset)] -= m.units
        bal[(m.destination, m.asset)] += m.units
        bal[(m.source, "ETH")] -= gas * costs.max_fee_wei
    return bal


def test_moves_everything_above_minimums_and_reports_the_reduction():
    holdings = [
        _h("0xa", "ETH", ETHER), _h("0xa", "USDC", 500 * USD),
        _h("0xb", "ETH", 2 * ETHER, minimum=ETHER // 2), _h("0xb", "USDC", 900 * USD, 100 * USD),
        _h("0xc", "USDC", 1_000 * USD),  # no ETH at all: needs a top-up
        _h("0xd", "USDC", 1 * USD),  # 1 USDC, no ETH: a top-up would cost more than it is worth
        _h("0xe", "ETH", 10**12),  # 0.000001 ETH: dust
    ]
    plan = plan_pool(holdings, DEST, COSTS, funding=FUND)
    kinds = [(p.kind, p.move.source, p.move.destination, p.move.asset) for p in plan.moves]
    assert kinds == [
        ("topup", FUND, "0xc", "ETH"),
        ("token", "0xa", DEST, "USDC"), ("token", "0xb", DEST, "USDC"),
        ("token", "0xc", DEST, "USDC"),
        ("native", "0xa", DEST, "ETH"), ("native", "0xb", DEST, "ETH"),
    ]
    assert plan.totals["USDC"] == 500 * USD + 800 * USD + 1_000 * USD
    topup = plan.moves[0].move.units
    assert topup == COSTS.token_gas * COSTS.max_fee_wei
    assert {(s.wallet, s.asset) for s in plan.skipped} == {("0xd", "USDC"), ("0xe", "ETH")}
    dust = next(s for s in plan.skipped if s.wallet == "0xd")
    assert dust.reason == "dust: worth 100 cents, moving it costs 516 cents of gas"
    after = _after(holdings, plan)
    assert after[("0xb", "ETH")] >= ETHER // 2 and after[("0xb", "USDC")] == 100 * USD
    assert after[("0xa", "ETH")] >= 0 and after[("0xc", "ETH")] >= 0
    report = plan.report()
    assert (report["wallets_before"], report["wallets_after_planned"]) == (4, 1)
    assert report["reduction_bps"] == 7500
    assert all(isinstance(p.move.units, int) for p in plan.moves)


def test_without_a_funding_wallet_tokens_without_gas_stay_and_are_reported():
    plan = plan_pool([_h("0xc", "USDC", 1_000 * USD)], DEST, COSTS)
    assert plan.moves == ()
    assert [s.reason for s in plan.skipped] == ["no ETH for gas and no funding wallet"]


def test_a_wallet_at_or_below_its_minimum_moves_nothing():
    plan = plan_pool([_h("0xa", "ETH", ETHER, ETHER), _h("0xa", "USDC", 5 * USD, 9 * USD)],
                     DEST, COSTS, funding=FUND)
    assert plan.moves == () and plan.skipped == ()


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="integers"):
        plan_pool([Holding("ETH", "0xa", "hot", 1.5, 0)], DEST, COSTS)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="twice"):
        plan_pool([_h("0xa", "ETH", 1), _h("0xa", "ETH", 2)], DEST, COSTS)
    with pytest.raises(ValueError, match="positive integer"):
        PoolCosts(max_fee_wei=0, prices_cents={"ETH": 1})


wallet_st = st.tuples(st.integers(0, 3 * ETHER), st.integers(0, ETHER),
                      st.integers(0, 10_000 * USD), st.integers(0, 1_000 * USD))


@settings(max_examples=60)
@given(st.lists(wallet_st, min_size=1, max_size=12), st.integers(1, 300), st.booleans())
def test_no_wallet_ever_below_its_minimum_and_no_move_worth_less_than_its_gas(rows, fee_gwei,
                                                                               funded):
    costs = PoolCosts(max_fee_wei=fee_gwei * GWEI, prices_cents={"ETH": 300_000, "USDC": 100})
    holdings = []
    for i, (eth, eth_min, usdc, usdc_min) in enumerate(rows):
        holdings += [_h(f"0x{i}", "ETH", eth, eth_min), _h(f"0x{i}", "USDC", usdc, usdc_min)]
    plan = plan_pool(holdings, DEST, costs, funding=FUND if funded else None)
    after = _after(holdings, plan, costs)
    for h in holdings:
        assert after[(h.wallet, h.asset)] >= min(h.units, h.minimum_units)
    for p in plan.moves:
        if p.kind != "topup":
            gas = costs.native_gas if p.move.asset == "ETH" else costs.token_gas
            assert costs.cents(p.move.asset, p.move.units) >= 3 * costs.gas_cents(gas) > 0
    # a fresh plan on the planned balances (gas at the cap) moves nothing more
    left = [_h(w, a, u, next(h.minimum_units for h in holdings if (h.wallet, h.asset) == (w, a)))
            for (w, a), u in after.items() if w not in (DEST, FUND)]
    assert operational_wallets(left, DEST, costs, funding=FUND if funded else None) == {DEST}
    assert 0 <= reduction_bps(plan.wallets_before, plan.wallets_after_planned) < 10_000


def test_a_wallet_left_with_its_unspent_gas_reserve_is_not_operational():
    """After a run a wallet keeps at most its token transfer's gas reserve (at the cap): the
    planner never counts that change as funds worth another transaction."""
    left = [_h("0xa", "ETH", COSTS.token_gas * COSTS.max_fee_wei), _h("0xa", "USDC", 0)]
    assert operational_wallets(left, DEST, COSTS, funding=FUND) == {DEST}
    # four times that is worth moving
    more = [_h("0xa", "ETH", 4 * COSTS.token_gas * COSTS.max_fee_wei)]
    assert operational_wallets(more, DEST, COSTS, funding=FUND) == {DEST, "0xa"}
