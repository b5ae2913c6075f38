"""The rebalancer (FR-008, SC-007): the cheapest moves that bring every tier back within band.

Pure planning, no I/O; integer arithmetic only. Per asset, from its :class:`Holding` rows and
its three :class:`TierTarget` rows:

* **Drift** of a tier: ``share_bps - target_bps`` with ``share_bps = tier units * 10000 // asset
  units`` (rounded down, the tier view's definition).
* **Hysteresis.** Nothing is done while every tier is within its band (``|drift| <= band_bps``,
  the outer band, 2 %). When a tier leaves it, every tier is brought back within the *inner*
  band (``Hysteresis.inner_bps`` of its target, at most the band, at least 1 bp:
  :func:`inner_width`), not exactly to target: the moves are as small as the inner band
  allows, and a wiggle back inside the outer band costs nothing.
* **Minimum cost.** The tier totals the plan ends at are chosen among the candidates "unchanged
  or at an edge of the inner band" (two tiers chosen, the third takes the rest); each candidate
  is carried out by at most two moves (through any tier in the middle: a star, or a path when
  the direct route is not allowed), each source giving only from what it held before the plan
  (moves may land in any order), split across a tier's wallets only when one wallet cannot give
  it all; only routes the executor can carry (``routes``) are used. The plan costs the sum
  of its moves' :meth:`CostModel.move_cents`. The cheapest feasible candidate wins (ties: fewer units moved,
  then fewer moves).
* **Minimums.** No move takes a wallet below its ``minimum_units`` (a wallet already below it
  gives nothing). When every candidate would, the asset's plan is refused: the decision is
  ``refused`` and its :class:`Binding` names the constraint that bound (``wallet_minimum``: which
  tier and wallet, how much the plan needed and how much could be given), ``no_wallet`` (a tier
  that must receive has no wallet), ``no_route`` (the executor cannot carry a needed route)
  or ``band_infeasible`` (amounts too small to meet the bands).
  Nothing of a refused asset moves; other assets are planned independently.
* **Cooldown.** Assets named in ``cooling`` (a recent rebalance not yet settled: the job's
  persisted last decision) are held with a ``cooldown`` binding.

Allocation *across* assets (trades, e.g. ETH into USDC) is not planned here: it needs the
trading router of the trading issue, which does not exist yet. :mod:`.allocation` reports the
value gaps such a router would close; nothing here invents trades.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any, Literal

from keeper.treasury.moves import (
    BPS,
    TIERS,
    Holding,
    Move,
    Tier,
    TierTarget,
    drift_bps,
    out_of_band,
)
from keeper.treasury.rebalance.costs import CostModel, requires_quorum

Action = Literal["hold", "rebalance", "refused"]
ConstraintKind = Literal["wallet_minimum", "no_wallet", "no_route", "band_infeasible",
                         "cooldown"]
RouteFilter = Callable[[str, Tier, Tier], bool]  # (asset, source tier, destination tier)
REASON = "rebalance"


@dataclass(frozen=True, slots=True)
class Hysteresis:
    """Act only outside the outer band (each target's ``band_bps``); then aim ``inner_bps``."""

    inner_bps: int = 50

    def __post_init__(self) -> None:
        if type(self.inner_bps) is not int or not 0 <= self.inner_bps <= BPS:
            raise ValueError("inner_bps is an integer within 0..10000")


DEFAULT_HYSTERESIS = Hysteresis()


@dataclass(frozen=True, slots=True)
class Binding:
    """The constraint that stopped (or held) an asset's plan, with the figures."""

    kind: ConstraintKind
    asset: str
    tier: Tier | None = None
    wallet: str | None = None
    required_units: int = 0  # what the plan needed to take out of the tier (wallet_minimum)
    available_units: int = 0  # what the tier could give without going below its minimums
    to_tier: Tier | None = None  # no_route: where the move that cannot be carried was going

    def to_json(self) -> dict[str, Any]:
        """The binding in JSON (units as decimal strings)."""
        return {"kind": self.kind, "asset": self.asset, "tier": self.tier, "wallet": self.wallet,
                "required_units": str(self.required_units),
                "available_units": str(self.available_units), "to_tier": self.to_tier}


@dataclass(frozen=True, slots=True)
class PlannedMove:
    """A move, its cost in cents, and whether only a multisig quorum can carry it out."""

    move: Move
    cost_cents: int
    requires_quorum: bool


@dataclass(frozen=True)
class AssetDecision:
    """What the rebalancer decided for one asset, and the drift before and (planned) after."""

    asset: str
    action: Action
    total_units: int
    drift_before: Mapping[Tier, int]
    drift_after: Mapping[Tier, int]
    triggered_by: tuple[Tier, ...] = ()
    moves: tuple[PlannedMove, ...] = ()
    binding: Binding | None = None

    @property
    def cost_cents(self) -> int:
        """What the planned moves cost."""
        return sum(p.cost_cents for p in self.moves)

    def to_json(self) -> dict[str, Any]:
        """The decision in JSON (units as decimal strings)."""
        return {"asset": self.asset, "action": self.action, "total_units": str(self.total_units),
                "drift_before": dict(self.drift_before), "drift_after": dict(self.drift_after),
                "triggered_by": list(self.triggered_by), "cost_cents": str(self.cost_cents),
                "moves": [move_json(p) for p in self.moves],
                "binding": self.binding.to_json() if self.binding else None}


@dataclass(frozen=True)
class RebalancePlan:
    """One decision per asset."""

    decisions: tuple[AssetDecision, ...]

    @property
    def moves(self) -> list[PlannedMove]:
        """Every planned move, asset by asset."""
        return [p for d in self.decisions for p in d.moves]

    @property
    def cost_cents(self) -> int:
        """What every planned move costs."""
        return sum(d.cost_cents for d in self.decisions)

    def refused(self) -> list[Binding]:
        """The bindings of the refused assets."""
        return [d.binding for d in self.decisions if d.action == "refused" and d.binding]

    def to_json(self) -> dict[str, Any]:
        """The plan in JSON, for the audit record and the operator."""
        return {"cost_cents": str(self.cost_cents),
                "decisions": [d.to_json() for d in self.decisions]}


def move_json(p: PlannedMove) -> dict[str, Any]:
    """One planned move in JSON."""
    m = p.move
    return {"asset": m.asset, "source": m.source, "source_tier": m.source_tier,
            "destination": m.destination, "destination_tier": m.destination_tier,
            "units": str(m.units), "cost_cents": str(p.cost_cents),
            "requires_quorum": p.requires_quorum}


def inner_width(inner_bps: int, band_bps: int) -> int:
    """How close to target a rebalance brings a tier: ``inner_bps``, at most the band, at least
    1 bp (shares are rounded down, so the three tiers' shares can only all be exactly on target
    when the total divides evenly: "to target" means within one basis point)."""
    return max(1, min(inner_bps, band_bps))


def inner_box(total: int, target: TierTarget, inner_bps: int) -> tuple[int, int]:
    """The units ``(lo, hi)`` a tier may hold for its rounded-down share to be within
    ``inner_width(inner_bps, band)`` of its target (``lo > hi`` when no amount is)."""
    b = inner_width(inner_bps, target.band_bps)
    lo = max(0, -(-(target.share_bps - b) * total // BPS))
    hi = min(total, ((target.share_bps + b + 1) * total - 1) // BPS)
    return lo, hi


@dataclass
class _Tier:
    wallets: list[Holding] = field(default_factory=list)

    @property
    def units(self) -> int:
        return sum(h.units for h in self.wallets)

    @property
    def spare(self) -> int:
        return sum(max(0, h.units - h.minimum_units) for h in self.wallets)

    def givers(self) -> list[Holding]:
        """Wallets that can give, most spare first (then by name)."""
        return sorted((h for h in self.wallets if h.units > h.minimum_units),
                      key=lambda h: (-(h.units - h.minimum_units), h.wallet))

    def receiver(self) -> Holding | None:
        """The wallet that receives: the largest holding (then by name)."""
        return min(self.wallets, key=lambda h: (-h.units, h.wallet), default=None)


def _check(holdings: Iterable[Holding]) -> dict[str, dict[Tier, _Tier]]:
    out: dict[str, dict[Tier, _Tier]] = defaultdict(lambda: {t: _Tier() for t in TIERS})
    seen: set[tuple[str, str]] = set()
    for h in holdings:
        if type(h.units) is not int or type(h.minimum_units) is not int:
            raise ValueError(f"{h.wallet} {h.asset}: units and minimum are integers")
        if h.units < 0 or h.minimum_units < 0 or h.tier not in TIERS:
            raise ValueError(f"{h.wallet} {h.asset}: negative amount or unknown tier")
        if (h.asset, h.wallet) in seen:
            raise ValueError(f"{h.wallet} holds {h.asset} twice in the input")
        seen.add((h.asset, h.wallet))
        out[h.asset][h.tier].wallets.append(h)
    return out


def _targets(asset: str, rows: Sequence[TierTarget]) -> dict[Tier, TierTarget]:
    by_tier = {r.tier: r for r in rows}
    if sorted(by_tier) != sorted(TIERS) or len(rows) != len(TIERS):
        raise ValueError(f"{asset}: one target per tier is required")
    if sum(r.share_bps for r in rows) != BPS:
        raise ValueError(f"{asset}: target shares must sum to {BPS} bps")
    return by_tier


def _decompositions(delta: Mapping[Tier, int]) -> list[list[tuple[Tier, Tier, int]]]:
    """Every way of carrying out ``delta`` with at most two moves: through each tier ``m`` in
    the middle, every other tier exchanges its change with ``m`` directly (with ``m`` the tier
    whose change has the odd sign this is the usual star; otherwise a path through ``m``)."""
    out = []
    for middle in TIERS:
        pairs = [(t, middle, -delta[t]) if delta[t] < 0 else (middle, t, delta[t])
                 for t in TIERS if t != middle and delta[t]]
        if pairs not in out:
            out.append(pairs)
    return out


def _realise(asset: str, tiers: Mapping[Tier, _Tier], pairs: Sequence[tuple[Tier, Tier, int]],
             costs: CostModel, routes: RouteFilter | None
             ) -> tuple[list[PlannedMove], Binding | None]:
    """The moves of ``pairs`` (source tier, destination tier, units), split across the source
    tier's wallets; each source gives only from what it holds before the plan (moves may land in
    any order: a proposal waits for its signers), never below a wallet's minimum."""
    outflow: dict[Tier, int] = defaultdict(int)
    for src, dst, units in pairs:
        outflow[src] += units
        if routes is not None and not routes(asset, src, dst):
            return [], Binding("no_route", asset, src, None, units, 0, to_tier=dst)
        if tiers[dst].receiver() is None:
            return [], Binding("no_wallet", asset, dst, None, units, 0)
    for t, units in outflow.items():
        if tiers[t].spare < units:
            givers = tiers[t].givers()
            wallet = givers[0].wallet if givers else tiers[t].wallets[0].wallet
            return [], Binding("wallet_minimum", asset, t, wallet, units, tiers[t].spare)
    out: list[PlannedMove] = []
    left = {t: [[h.wallet, h.units - h.minimum_units] for h in tiers[t].givers()]
            for t in outflow}
    for src, dst, units in pairs:
        receiver = tiers[dst].receiver()
        assert receiver is not None
        while units > 0:
            giver = left[src][0]
            take = min(units, giver[1])
            move = Move(asset, giver[0], src, receiver.wallet, dst, take, REASON)
            out.append(PlannedMove(move, costs.move_cents(move), requires_quorum(move)))
            giver[1] -= take
            units -= take
            if giver[1] == 0:
                left[src].pop(0)
    return out, None


def _plan_asset(asset: str, tiers: Mapping[Tier, _Tier], targets: Mapping[Tier, TierTarget],
                costs: CostModel, hysteresis: Hysteresis, cooling: bool,
                routes: RouteFilter | None) -> AssetDecision:
    units = {t: tiers[t].units for t in TIERS}
    total = sum(units.values())
    before = drift_bps(units, targets)
    triggered = out_of_band(before, targets) if total else ()
    if cooling and triggered:
        return AssetDecision(asset, "hold", total, before, before, triggered,
                             binding=Binding("cooldown", asset))
    if not triggered:
        return AssetDecision(asset, "hold", total, before, before)
    box = {t: inner_box(total, targets[t], hysteresis.inner_bps) for t in TIERS}
    choices = {t: sorted({v for v in (units[t], *box[t]) if box[t][0] <= v <= box[t][1]})
               for t in TIERS}
    best: tuple[tuple[int, int, int], list[PlannedMove], dict[Tier, int]] | None = None
    first_binding: tuple[int, Binding] | None = None  # of the candidate moving the least
    for free in TIERS:
        others = [t for t in TIERS if t != free]
        for values in product(*(choices[t] for t in others)):
            final = dict(zip(others, values, strict=True))
            final[free] = total - sum(values)
            if not box[free][0] <= final[free] <= box[free][1]:
                continue
            delta = {t: final[t] - units[t] for t in TIERS}
            for pairs in _decompositions(delta):
                moves, binding = _realise(asset, tiers, pairs, costs, routes)
                moved = sum(u for _, _, u in pairs)
                if binding is not None:
                    if first_binding is None or moved < first_binding[0]:
                        first_binding = (moved, binding)
                    continue
                key = (sum(p.cost_cents for p in moves), moved, len(moves))
                if best is None or key < best[0]:
                    best = (key, moves, final)
    if best is None:
        binding = first_binding[1] if first_binding else Binding("band_infeasible", asset)
        return AssetDecision(asset, "refused", total, before, before, triggered, binding=binding)
    return AssetDecision(asset, "rebalance", total, before, drift_bps(best[2], targets),
                         triggered, tuple(best[1]))


def plan_rebalance(holdings: Sequence[Holding], targets: Mapping[str, Sequence[TierTarget]],
                   costs: CostModel, hysteresis: Hysteresis = DEFAULT_HYSTERESIS, *,
                   cooling: Collection[str] = (), routes: RouteFilter | None = None
                   ) -> RebalancePlan:
    """Plan the moves that bring every tier of every asset of ``holdings`` within band (see the
    module docstring). Every asset held needs its three targets in ``targets``. ``routes``
    (``(asset, source tier, destination tier) -> bool``, default every route) is what the
    executor can carry out; plans use no other."""
    by_asset = _check(holdings)
    decisions = []
    for asset in sorted(by_asset):
        if asset not in targets:
            raise ValueError(f"{asset}: no tier targets")
        decisions.append(_plan_asset(asset, by_asset[asset], _targets(asset, targets[asset]),
                                     costs, hysteresis, asset in cooling, routes))
    return RebalancePlan(tuple(decisions))


def apply_moves(holdings: Sequence[Holding], moves: Iterable[Move]) -> list[Holding]:
    """``holdings`` after ``moves`` (units conserved; used by the simulation and the tests)."""
    units = {(h.asset, h.wallet): h.units for h in holdings}
    for m in moves:
        units[(m.asset, m.source)] -= m.units
        units[(m.asset, m.destination)] += m.units
    return [Holding(h.asset, h.wallet, h.tier, units[(h.asset, h.wallet)], h.minimum_units)
            for h in holdings]
