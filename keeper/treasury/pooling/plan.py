"""Consolidated pooling plan (FR-006, SC-005): many small EVM wallets into one operational wallet.

Pure planning, no I/O: given every source wallet's :class:`~keeper.treasury.moves.Holding` rows
(ETH and ERC-20s; amounts integer base units, prices integer cents) and one destination, answer
with the ordered :class:`PoolPlan`:

1. **Gas top-ups** (ETH from a funding wallet) for wallets whose token balance is worth moving
   but whose spare ETH cannot pay the transfer's gas.
2. **Token moves** (one ERC-20 ``transfer`` each), paid from the wallet's spare ETH or its top-up.
3. **ETH moves**: what is left above the wallet's minimum after the gas of everything it sends.

With ``vault=True`` the destination is the Vault: a token move is an ``approve`` of the vault
for exactly the amount, then ``deposit(token, amount, POOL_REF)``; ETH is ``depositEth(POOL_REF)``
(the reserved pooling reference, never a client's: see :mod:`keeper.treasury.pooling.executor`).

Rules, each applied here only:

* A wallet never goes below ``Holding.minimum_units``: a move takes at most ``units - minimum``
  and every transaction's gas is reserved at the run's fee cap (``max_fee_wei`` per gas, the most
  the executor will pay), so whatever the chain charges, ETH stays at or above its minimum.
* A move is made only when it is worth more than it costs: the value moved (cents, through
  :func:`keeper.prices.to_usd_cents`) must be at least ``min_value_ratio`` (3) times the cost of
  its gas at the cap, including the top-up transaction it needs. Otherwise it is skipped as dust,
  and the plan says so (``skipped`` with the figures). Why 3: after a run a wallet keeps the
  unspent part of its gas reserve, at most ``token_gas x cap`` (65,000 gas) of which
  ``(token_gas - native_gas) x cap`` could be moved; that is below 3 x the ``native_gas x cap`` a
  move costs, so the planner never counts its own gas change as funds worth managing.
* An **operational wallet** is one holding funds worth managing: the destination, or a source a
  plan would still move something from. The reduction (SC-005, goal >= 60 %) compares that count
  before the run with the count a fresh plan finds on the balances after it
  (:func:`operational_wallets`), in integer basis points.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from keeper.assets import ETH, by_symbol
from keeper.prices import to_usd_cents
from keeper.treasury.moves import BPS, Holding, Move, Tier

NATIVE_GAS = 21_000  # a plain ETH transfer to an EOA
TOKEN_GAS = 65_000  # an ERC-20 transfer (USDC ~ 45-60k); reserved, not all spent

TOPUP, APPROVE, TOKEN, NATIVE = "topup", "approve", "token", "native"
ACTOR = "treasury:pooling"  # the audit trail's actor of everything pooling does
APPROVE_GAS = 60_000  # an ERC-20 approve (USDC ~ 46k), reserved when the destination is a vault


@dataclass(frozen=True, slots=True)
class PoolCosts:
    """What a transaction costs in this run: the fee cap per gas (wei) and prices (cents per
    whole unit, e.g. ``{"ETH": 300_000, "USDC": 100}``)."""

    max_fee_wei: int
    prices_cents: Mapping[str, int]
    native_gas: int = NATIVE_GAS
    token_gas: int = TOKEN_GAS  # a transfer, or a Vault ``deposit`` when pooling into the vault
    min_value_ratio: int = 3  # a move is worth at least this many times its gas
    approve_gas: int = APPROVE_GAS  # reserved only when the destination is a vault

    def __post_init__(self) -> None:
        for name in ("max_fee_wei", "native_gas", "token_gas", "min_value_ratio"):
            value = getattr(self, name)
            if type(value) is not int or value <= 0:
                raise ValueError(f"{name} is a positive integer")

    def cents(self, asset: str, units: int) -> int:
        """Value of ``units`` base units of ``asset`` in cents (rounded up)."""
        if asset not in self.prices_cents:
            raise ValueError(f"no price for {asset}")
        return to_usd_cents(units, by_symbol(asset).decimals, int(self.prices_cents[asset]))

    def gas_cents(self, gas: int) -> int:
        """Cost in cents of ``gas`` at the fee cap (rounded up: never understated)."""
        return self.cents(ETH.symbol, gas * self.max_fee_wei)

    def worth(self, value_cents: int, cost_cents: int) -> bool:
        """True when moving ``value_cents`` is worth paying ``cost_cents`` of gas."""
        return value_cents >= self.min_value_ratio * cost_cents and value_cents > cost_cents


@dataclass(frozen=True, slots=True)
class PlannedMove:
    """One transaction of the plan: a :class:`Move`, its kind (topup / token / native) and the
    minimum its source keeps of the asset (``keep``)."""

    kind: str
    move: Move
    keep: int = 0


@dataclass(frozen=True, slots=True)
class Skip:
    """A balance left where it is, and why (with the figures)."""

    wallet: str
    asset: str
    units: int
    reason: str


@dataclass(frozen=True)
class PoolPlan:
    """The ordered transactions of a pooling run, what it leaves, and the wallet count."""

    destination: str
    moves: tuple[PlannedMove, ...]
    skipped: tuple[Skip, ...]
    wallets_before: int
    wallets_after_planned: int
    totals: Mapping[str, int] = field(default_factory=dict)  # units pooled per asset
    vault: bool = False  # the destination is the Vault: deposits under POOL_REF

    @property
    def topup_wei(self) -> int:
        """ETH the funding wallet sends for gas."""
        return sum(p.move.units for p in self.moves if p.kind == TOPUP)

    def report(self) -> dict[str, object]:
        """The plan in figures (integers only), for the audit record and the operator."""
        return {
            "destination": self.destination,
            "vault": self.vault,
            "transactions": len(self.moves),
            "topups": sum(1 for p in self.moves if p.kind == TOPUP),
            "topup_wei": str(self.topup_wei),
            "pooled": {k: str(v) for k, v in sorted(self.totals.items())},
            "skipped": [[s.wallet, s.asset, str(s.units), s.reason] for s in self.skipped],
            "wallets_before": self.wallets_before,
            "wallets_after_planned": self.wallets_after_planned,
            "reduction_bps": reduction_bps(self.wallets_before, self.wallets_after_planned),
        }


def reduction_bps(before: int, after: int) -> int:
    """Fewer operational wallets, in basis points of ``before`` (rounded down)."""
    return 0 if before <= 0 else (before - after) * BPS // before


def _by_wallet(holdings: Iterable[Holding]) -> dict[str, dict[str, Holding]]:
    out: dict[str, dict[str, Holding]] = defaultdict(dict)
    for h in holdings:
        if type(h.units) is not int or type(h.minimum_units) is not int or h.minimum_units < 0:
            raise ValueError(f"{h.wallet} {h.asset}: units and minimum are integers (minimum >= 0)")
        if h.asset in out[h.wallet]:
            raise ValueError(f"{h.wallet} holds {h.asset} twice in the input")
        out[h.wallet][h.asset] = h
    return out


def _plan_wallet(wallet: str, held: Mapping[str, Holding], destination: str, dest_tier: Tier,
                 funding: str | None, costs: PoolCosts, vault: bool
                 ) -> tuple[list[PlannedMove], list[PlannedMove], list[PlannedMove], list[Skip]]:
    """(top-ups, token moves, ETH moves, skips) of one source wallet."""
    eth = held.get(ETH.symbol)
    tier: Tier = eth.tier if eth is not None else next(iter(held.values())).tier
    spare = 0 if eth is None else max(0, eth.units - eth.minimum_units)
    topups: list[PlannedMove] = []
    tokens: list[PlannedMove] = []
    skips: list[Skip] = []
    topup = 0
    token_gas = costs.token_gas + (costs.approve_gas if vault else 0)
    token_gas_wei = token_gas * costs.max_fee_wei
    ranked = sorted((h for a, h in held.items() if a != ETH.symbol),
                    key=lambda h: (-costs.cents(h.asset, max(0, h.units - h.minimum_units)), h.asset))
    for h in ranked:
        movable = h.units - h.minimum_units
        if movable <= 0:
            continue
        value = costs.cents(h.asset, movable)
        cost = costs.gas_cents(token_gas)
        from_spare = spare >= token_gas_wei
        if not from_spare:
            if funding is None:
                skips.append(Skip(wallet, h.asset, movable, "no ETH for gas and no funding wallet"))
                continue
            cost += 0 if topup else costs.gas_cents(costs.native_gas)  # one top-up per wallet
        if not costs.worth(value, cost):
            skips.append(Skip(wallet, h.asset, movable, f"dust: worth {value} cents, moving it "
                              f"costs {cost} cents of gas"))
            continue
        if from_spare:
            spare -= token_gas_wei
        else:
            topup += token_gas_wei - spare
            spare = 0
        move = Move(h.asset, wallet, tier, destination, dest_tier, movable, "pooling")
        if vault:
            tokens.append(PlannedMove(APPROVE, replace(move, reason="pooling: vault allowance"),
                                      keep=h.minimum_units))
        tokens.append(PlannedMove(TOKEN, move, keep=h.minimum_units))
    if topup:
        assert funding is not None  # noqa: S101 - a top-up is planned only with a funding wallet
        topups.append(PlannedMove(TOPUP, Move(ETH.symbol, funding, "hot", wallet, tier, topup,
                                              "pooling gas top-up")))
    natives: list[PlannedMove] = []
    if eth is not None and spare > 0:
        movable = spare - costs.native_gas * costs.max_fee_wei
        cost = costs.gas_cents(costs.native_gas)
        value = costs.cents(ETH.symbol, max(0, movable))
        if movable > 0 and costs.worth(value, cost):
            natives.append(PlannedMove(NATIVE, Move(ETH.symbol, wallet, tier, destination,
                                                    dest_tier, movable, "pooling"),
                                       keep=eth.minimum_units))
        else:
            skips.append(Skip(wallet, ETH.symbol, spare, f"dust: worth {value} cents after "
                              f"gas, moving it costs {cost} cents of gas"))
    return topups, tokens, natives, skips


def plan_pool(holdings: Sequence[Holding], destination: str, costs: PoolCosts, *,
              destination_tier: Tier = "hot", funding: str | None = None,
              vault: bool = False) -> PoolPlan:
    """The pooling plan of every source wallet in ``holdings`` into ``destination`` (see the
    module docstring). ``funding`` pays the gas top-ups (none: wallets without spare ETH keep
    their tokens, said in ``skipped``). Holdings of ``destination`` or ``funding`` are ignored."""
    wallets = _by_wallet(h for h in holdings if h.wallet not in (destination, funding))
    topups: list[PlannedMove] = []
    tokens: list[PlannedMove] = []
    natives: list[PlannedMove] = []
    skipped: list[Skip] = []
    moving: set[str] = set()
    for wallet in sorted(wallets):
        t, k, n, s = _plan_wallet(wallet, wallets[wallet], destination, destination_tier,
                                  funding, costs, vault)
        topups += t
        tokens += k
        natives += n
        skipped += s
        if k or n:
            moving.add(wallet)
    totals: dict[str, int] = defaultdict(int)
    for p in tokens + natives:
        if p.kind != APPROVE:
            totals[p.move.asset] += p.move.units
    # after the run, the moved wallets hold nothing worth moving: only the destination and the
    # wallets a skip left with value remain operational
    return PoolPlan(destination, tuple(topups + tokens + natives), tuple(skipped),
                    wallets_before=len(moving) + 1, wallets_after_planned=1,
                    totals=dict(totals), vault=vault)


def operational_wallets(holdings: Sequence[Holding], destination: str, costs: PoolCosts, *,
                        funding: str | None = None, vault: bool = False) -> set[str]:
    """Wallets holding funds worth managing: ``destination`` and every source a pooling plan
    would still move something from (the SC-005 count, measured on real balances)."""
    plan = plan_pool(holdings, destination, costs, funding=funding, vault=vault)
    return {destination} | {p.move.source for p in plan.moves if p.kind != TOPUP}
