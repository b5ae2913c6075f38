"""Rebalancing simulation bench (issue 14, SC-007): the rebalancer vs calendar rebalancing.

A year of seeded synthetic daily flows (:mod:`keeper.treasury.rebalance.simulate`: deposits into
hot, payments out of hot and warm, a net inflow trend, a large deposit or cold payment about once a
month) over an estate of ETH, USDC, USDT and BTC starting at target (hot 5 %, warm 15 %, cold
80 %, band 2 %; the hot wallet keeps 1 % of the asset as its minimum). The same flows are replayed
for each strategy:

* ``rebalancer inner=N``: checked daily, acts only when a tier leaves its 2 % band, then brings
  every tier within N bps of target (hysteresis) at minimum cost;
* ``calendar daily`` / ``calendar weekly``: every day / every 7th day, every tier back to target.

Figures (definitions in the simulation module's docstring):

* ``max drift``: the largest |share - target| of any tier of any asset at any daily check, after
  that day's flows and the strategy's moves, in bps (goal <= 200, i.e. 2 %); ``before``: the
  same before the strategy acted; ``out``: (asset, day) checks with a tier beyond 2 %;
* ``rebal``: (asset, day) pairs with at least one move (goal: >= 30 % fewer than calendar);
* ``cost``: network fees of every move (gas at 30 gwei, ETH $3,000; BTC 10 sat/vB, $90,000);
  ``moved``: the value of everything moved (what a tax-lot engine's impact would scale with);
* ``plan p50/p99``: time of one daily decision (all assets), microseconds (a shared machine:
  figures taken while others run are slow).

Usage: python bench/rebalance.py [--seeds 1,2,3] [--days 365] [--inner 0,50,100]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from keeper.treasury.moves import Holding, TierTarget  # noqa: E402
from keeper.treasury.rebalance import CostModel, Hysteresis, RebalancePlan  # noqa: E402
from keeper.treasury.rebalance.simulate import (  # noqa: E402
    AssetSetup,
    BandStrategy,
    CalendarStrategy,
    FlowModel,
    SimResult,
    Strategy,
    daily_flows,
    initial_holdings,
    simulate,
)

TARGETS = [TierTarget("hot", 500), TierTarget("warm", 1500), TierTarget("cold", 8000)]
SETUPS = [AssetSetup("ETH", 20_000 * 10**18, 200 * 10**18),
          AssetSetup("USDC", 50_000_000 * 10**6, 500_000 * 10**6),
          AssetSetup("USDT", 20_000_000 * 10**6, 200_000 * 10**6),
          AssetSetup("BTC", 500 * 10**8, 5 * 10**8)]
ALL = {s.asset: TARGETS for s in SETUPS}
COSTS = CostModel(prices_cents={"ETH": 300_000, "BTC": 9_000_000, "USDC": 100, "USDT": 100})


@dataclass
class Timed:
    """A strategy whose decisions are timed (nanoseconds each)."""

    inner: Strategy
    samples: list[int]

    @property
    def name(self) -> str:
        """The wrapped strategy's name."""
        return self.inner.name

    def decide(self, day: int, holdings: Sequence[Holding]) -> RebalancePlan | None:
        """Time the wrapped decision."""
        t0 = time.perf_counter_ns()
        plan = self.inner.decide(day, holdings)
        self.samples.append(time.perf_counter_ns() - t0)
        return plan


def usd(cents: int) -> str:
    """Cents as dollars with thousands separators."""
    return f"${cents // 100:,}.{cents % 100:02d}"


def pct_fewer(ours: int, theirs: int) -> str:
    """How many fewer ``ours`` is than ``theirs``, in percent to one decimal (integer maths)."""
    if theirs == 0:
        return "n/a"
    tenths = (theirs - ours) * 1000 // theirs
    sign = "-" if tenths < 0 else ""
    return f"{sign}{abs(tenths) // 10}.{abs(tenths) % 10}%"


def p(samples: list[int], q: int) -> int:
    """The q-th percentile of nanosecond samples, in microseconds."""
    if len(samples) < 2:
        return samples[0] // 1000 if samples else 0
    return int(statistics.quantiles(samples, n=100)[q - 1]) // 1000


def strategies(inners: list[int]) -> list[Strategy]:
    """The rebalancer at each inner band, then the two calendar baselines."""
    out: list[Strategy] = [BandStrategy(ALL, COSTS, Hysteresis(i), name=f"rebalancer inner={i}")
                           for i in inners]
    return out + [CalendarStrategy(ALL, COSTS, 1, name="calendar daily"),
                  CalendarStrategy(ALL, COSTS, 7, name="calendar weekly")]


def run(seed: int, days: int, inners: list[int]) -> list[tuple[SimResult, list[int]]]:
    """Every strategy over one seed's flows."""
    flows = daily_flows(FlowModel(seed=seed, days=days), SETUPS)
    start = initial_holdings(SETUPS, ALL)
    out = []
    for s in strategies(inners):
        timed = Timed(s, [])
        out.append((simulate(timed, flows, start, ALL, COSTS.prices_cents), timed.samples))
    return out


def main() -> None:
    """Run the bench and print one table per seed and a summary over all seeds."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--inner", default="0,50,100")
    args = ap.parse_args()
    seeds = [int(x) for x in args.seeds.split(",")]
    inners = [int(x) for x in args.inner.split(",")]
    m = FlowModel()
    print(f"{len(SETUPS)} assets x {args.days} days; flows (bps of holdings, daily means): "
          f"deposits {m.deposit_bps}, hot payments {m.hot_payment_bps}, warm payments "
          f"{m.warm_payment_bps}, trend +{m.trend_bps}; a {m.large_bps} bps flow every "
          f"~{m.large_every_days} days. Goals: max drift <= 200 bps, >= 30% fewer rebalances.")
    header = (f"{'strategy':<22}{'rebal':>6}{'moves':>6}{'cost':>14}{'moved':>18}{'max drift':>10}"
              f"{'before':>8}{'out':>5}{'refused':>8}{'headroom>=0':>12}{'plan p50/p99 us':>17}")
    totals: dict[str, list[int]] = {}
    for seed in seeds:
        print(f"\nseed {seed}\n{header}")
        results = run(seed, args.days, inners)
        for r, samples in results:
            ok = r.min_headroom is not None and r.min_headroom >= 0
            print(f"{r.name:<22}{r.rebalances:>6}{r.moves:>6}{usd(r.cost_cents):>14}"
                  f"{usd(r.moved_cents):>18}"
                  f"{r.max_drift_bps:>10}{r.max_drift_before_bps:>8}{r.checks_out_of_band:>5}"
                  f"{r.refusals:>8}{str(ok):>12}{p(samples, 50):>9}/{p(samples, 99)}")
            t = totals.setdefault(r.name, [0, 0, 0, 0])
            t[0] += r.rebalances
            t[1] += r.cost_cents
            t[2] = max(t[2], r.max_drift_bps)
            t[3] += r.checks_out_of_band
    daily, weekly = totals["calendar daily"], totals["calendar weekly"]
    print(f"\nall seeds ({len(seeds)}): fewer rebalances and cost vs the calendar baselines")
    for name, (rebal, cost, drift, out) in totals.items():
        print(f"{name:<22} rebalances {rebal:>5} ({pct_fewer(rebal, daily[0])} fewer than daily,"
              f" {pct_fewer(rebal, weekly[0])} than weekly), cost {usd(cost)} "
              f"({pct_fewer(cost, weekly[1])} below weekly), max drift {drift} bps, "
              f"checks beyond 2%: {out}")


if __name__ == "__main__":
    main()
