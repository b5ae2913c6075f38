"""A year of synthetic daily flows, and a rebalancing strategy run over them (SC-007).

The same seeded flows are replayed for every strategy, so their figures compare like for like:

* **Flows** (:func:`daily_flows`), per asset and day, in base units sized from the asset's
  starting holdings: client deposits into the hot tier; small payments out of hot; medium
  payments out of warm; a net inflow trend; and, on average every ``large_every_days`` days, a
  large flow (a deposit into hot or a payment out of cold, spec 6.3's payment routing). A payment
  is paid from its tier's wallet down to the wallet's minimum, the rest from the other tiers
  (never below any minimum); what no wallet can pay is counted as unserved.
* **Strategies**: :class:`BandStrategy` (the rebalancer, checked daily, acting only outside the
  band, see :mod:`.plan`) and :class:`CalendarStrategy` (every ``period_days`` days, everything
  back to target, within 1 bp: what a manual calendar process does).
* **Daily check**: after the day's flows and the strategy's moves, every tier's drift (bps of
  the asset's units, share rounded down). ``max_drift_bps`` is the largest ``|drift|`` of any tier
  of any asset at any daily check; ``checks_out_of_band`` counts (asset, day) checks with a tier
  beyond its band. ``max_drift_before_bps`` is the same measured before the strategy acted.
* **Rebalances**: (asset, day) pairs on which the strategy moved anything; ``moves``,
  ``cost_cents`` (:class:`CostModel`) and ``moved_cents`` (the value moved) add up what it did.

Integer arithmetic throughout; ``random.Random(seed)`` draws integers only.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from keeper.assets import by_symbol
from keeper.prices import FACE_VALUE_CENTS, STABLECOINS, to_usd_cents
from keeper.treasury.moves import BPS, TIERS, Holding, Move, Tier, TierTarget, drift_bps
from keeper.treasury.rebalance.costs import CostModel
from keeper.treasury.rebalance.plan import (
    DEFAULT_HYSTERESIS,
    Hysteresis,
    RebalancePlan,
    RouteFilter,
    apply_moves,
    inner_width,
    plan_rebalance,
)

WALLETS: Mapping[Tier, str] = {"hot": "vault", "warm": "warm_multisig", "cold": "cold_multisig"}
PAY_ORDER: Mapping[Tier, tuple[Tier, ...]] = {"hot": ("hot", "warm", "cold"),
                                              "warm": ("warm", "hot", "cold"),
                                              "cold": ("cold", "warm", "hot")}


@dataclass(frozen=True, slots=True)
class AssetSetup:
    """One asset of the simulated estate: its starting units (split at target) and the hot
    wallet's minimum."""

    asset: str
    units: int
    hot_minimum_units: int = 0


@dataclass(frozen=True, slots=True)
class FlowModel:
    """Sizes of the synthetic flows, in basis points of an asset's starting units (see module)."""

    seed: int = 1
    days: int = 365
    deposit_bps: int = 40  # mean daily client deposits into hot (uniform 0..2x)
    hot_payment_bps: int = 30  # mean daily small payments out of hot
    warm_payment_bps: int = 8  # mean daily medium payments out of warm
    trend_bps: int = 2  # net daily inflow into hot
    large_every_days: int = 30
    large_bps: int = 300


@dataclass(frozen=True, slots=True)
class Flow:
    """``units`` into (positive) or out of (negative) ``tier`` of ``asset`` on ``day``."""

    day: int
    asset: str
    tier: Tier
    units: int


def daily_flows(model: FlowModel, setups: Sequence[AssetSetup]) -> list[list[Flow]]:
    """The seeded flows of every day (the same for every strategy)."""
    rng = random.Random(model.seed)
    days: list[list[Flow]] = []
    for day in range(model.days):
        today: list[Flow] = []
        for s in setups:
            def draw(mean_bps: int, units: int = s.units) -> int:
                return units * rng.randint(0, 2 * mean_bps) // BPS
            today.append(Flow(day, s.asset, "hot", draw(model.deposit_bps)
                              + s.units * model.trend_bps // BPS))
            today.append(Flow(day, s.asset, "hot", -draw(model.hot_payment_bps)))
            today.append(Flow(day, s.asset, "warm", -draw(model.warm_payment_bps)))
            if model.large_every_days and rng.randrange(model.large_every_days) == 0:
                size = s.units * model.large_bps // BPS
                today.append(Flow(day, s.asset, "hot", size) if rng.randrange(2)
                             else Flow(day, s.asset, "cold", -size))
        days.append(today)
    return days


class Strategy(Protocol):
    """A rebalancing policy run once per simulated day."""

    name: str

    def decide(self, day: int, holdings: Sequence[Holding]) -> RebalancePlan | None:
        """The plan to carry out today, or ``None`` (not a rebalancing day)."""
        ...


@dataclass(frozen=True)
class BandStrategy:
    """The rebalancer: checked daily, acts only when a tier leaves its band (hysteresis)."""

    targets: Mapping[str, Sequence[TierTarget]]
    costs: CostModel
    hysteresis: Hysteresis = DEFAULT_HYSTERESIS
    name: str = "rebalancer"
    routes: RouteFilter | None = None  # e.g. what the chain executor carries

    def decide(self, day: int, holdings: Sequence[Holding]) -> RebalancePlan | None:
        """Plan every day; the plan is empty while every tier is within its band."""
        return plan_rebalance(holdings, self.targets, self.costs, self.hysteresis,
                              routes=self.routes)


@dataclass(frozen=True)
class CalendarStrategy:
    """Every ``period_days`` days, every tier back to target (within 1 bp), whatever its drift."""

    targets: Mapping[str, Sequence[TierTarget]]
    costs: CostModel
    period_days: int
    name: str = "calendar"

    def decide(self, day: int, holdings: Sequence[Holding]) -> RebalancePlan | None:
        """On a calendar day, the plan to target; otherwise nothing."""
        if day % self.period_days:
            return None
        exact = {a: [TierTarget(t.tier, t.share_bps, 1) for t in rows]
                 for a, rows in self.targets.items()}
        return plan_rebalance(holdings, exact, self.costs, Hysteresis(0))


@dataclass
class SimResult:
    """What a strategy did over the simulated year (see the module docstring)."""

    name: str
    days: int = 0
    rebalances: int = 0
    moves: int = 0
    cost_cents: int = 0
    moved_cents: int = 0  # value of everything moved, at the cost model's prices (0 unpriced)
    max_drift_bps: int = 0
    max_drift_before_bps: int = 0
    checks_out_of_band: int = 0
    max_drift_after_rebalance_bps: int = 0  # the worst tier right after a rebalance
    refusals: int = 0
    min_headroom: int | None = None  # least (units - minimum) of any wallet at any time
    unserved: dict[str, int] = field(default_factory=dict)
    final: list[Holding] = field(default_factory=list)


def initial_holdings(setups: Sequence[AssetSetup],
                     targets: Mapping[str, Sequence[TierTarget]]) -> list[Holding]:
    """Each asset split across one wallet per tier at its target shares (hot gets the rest)."""
    out = []
    for s in setups:
        share = {t.tier: t.share_bps for t in targets[s.asset]}
        warm, cold = s.units * share["warm"] // BPS, s.units * share["cold"] // BPS
        units = {"hot": s.units - warm - cold, "warm": warm, "cold": cold}
        out += [Holding(s.asset, WALLETS[t], t, units[t],
                        s.hot_minimum_units if t == "hot" else 0) for t in TIERS]
    return out


def _pay(holdings: list[Holding], flow: Flow, result: SimResult) -> list[Holding]:
    """Apply one flow: a deposit lands in its tier; a payment is paid from its tier first, then
    the others (:data:`PAY_ORDER`), never below a wallet's minimum."""
    units = {(h.asset, h.tier): h for h in holdings}
    if flow.units >= 0:
        h = units[(flow.asset, flow.tier)]
        units[(flow.asset, flow.tier)] = Holding(h.asset, h.wallet, h.tier, h.units + flow.units,
                                                 h.minimum_units)
    else:
        due = -flow.units
        for tier in PAY_ORDER[flow.tier]:
            h = units[(flow.asset, tier)]
            paid = max(0, min(due, h.units - h.minimum_units))
            units[(flow.asset, tier)] = Holding(h.asset, h.wallet, h.tier, h.units - paid,
                                                h.minimum_units)
            due -= paid
        if due:
            result.unserved[flow.asset] = result.unserved.get(flow.asset, 0) + due
    return [units[(h.asset, h.tier)] for h in holdings]


def _drift(holdings: Sequence[Holding], asset: str, by_tier: Mapping[Tier, TierTarget]
           ) -> dict[Tier, int] | None:
    """Each tier's drift of ``asset`` (``None`` when it holds nothing)."""
    units = {t: sum(h.units for h in holdings if h.asset == asset and h.tier == t) for t in TIERS}
    return drift_bps(units, by_tier) if sum(units.values()) else None


def _check(holdings: Sequence[Holding], targets: Mapping[str, Sequence[TierTarget]]
           ) -> tuple[int, int]:
    """(largest |drift| of any tier, number of assets with a tier beyond its band)."""
    worst, out = 0, 0
    for asset, rows in targets.items():
        by_tier = {t.tier: t for t in rows}
        drift = _drift(holdings, asset, by_tier)
        if drift is not None:
            worst = max(worst, *(abs(v) for v in drift.values()))
            out += any(abs(drift[t]) > by_tier[t].band_bps for t in TIERS)
    return worst, out


def _value(prices_cents: Mapping[str, int], move: Move) -> int:
    """Value of ``move`` in cents (stablecoins at face value; an unpriced asset counts 0)."""
    price = FACE_VALUE_CENTS if move.asset in STABLECOINS else prices_cents.get(move.asset, 0)
    return to_usd_cents(move.units, by_symbol(move.asset).decimals, int(price))


def simulate(strategy: Strategy, flows: Sequence[Sequence[Flow]], start: Sequence[Holding],
             targets: Mapping[str, Sequence[TierTarget]],
             prices_cents: Mapping[str, int] | None = None) -> SimResult:
    """Replay ``flows`` from ``start`` under ``strategy`` and measure it (see module);
    ``prices_cents`` values what was moved."""
    prices_cents = prices_cents or {}
    result = SimResult(strategy.name)
    holdings = list(start)
    for day, today in enumerate(flows):
        for flow in today:
            holdings = _pay(holdings, flow, result)
        before, _ = _check(holdings, targets)
        plan = strategy.decide(day, holdings)
        if plan is not None:
            moves: list[Move] = [p.move for p in plan.moves]
            holdings = apply_moves(holdings, moves)
            result.moves += len(moves)
            result.cost_cents += plan.cost_cents
            result.moved_cents += sum(_value(prices_cents, m) for m in moves)
            result.refusals += len(plan.refused())
            for d in plan.decisions:
                if d.moves:  # measured on the holdings after the moves, not the plan's figures
                    drift = _drift(holdings, d.asset, {t.tier: t for t in targets[d.asset]})
                    result.rebalances += 1
                    result.max_drift_after_rebalance_bps = max(
                        result.max_drift_after_rebalance_bps,
                        *(abs(v) for v in (drift or {}).values()), 0)
        after, out = _check(holdings, targets)
        result.days += 1
        result.max_drift_before_bps = max(result.max_drift_before_bps, before)
        result.max_drift_bps = max(result.max_drift_bps, after)
        result.checks_out_of_band += out
        headroom = min(h.units - h.minimum_units for h in holdings)
        result.min_headroom = headroom if result.min_headroom is None else min(
            result.min_headroom, headroom)
    result.final = holdings
    return result


def drift_bound(targets: Mapping[str, Sequence[TierTarget]], hysteresis: Hysteresis) -> int:
    """The widest inner band of ``targets``: the most a tier may drift right after a rebalance."""
    return max(inner_width(hysteresis.inner_bps, t.band_bps) for rows in targets.values()
               for t in rows)
