"""What one rebalancing move costs, in integer US cents.

A move's cost is the sum of:

* **network fees**: on Ethereum the gas of the transaction that carries it (a Vault ``sweep``
  out of the hot tier, a Multisig ``execTransaction`` out of warm or cold) at ``gas_price_wei``,
  valued at the ETH price; on Bitcoin the fee of a P2WSH spend at ``btc_fee_sat_per_vb``:
  ``overhead + inputs * input_vbytes + outputs * output_vbytes`` virtual bytes, valued at the BTC
  price;
* **fixed costs**: ``fixed_cents_per_move`` for every move (operations), plus
  ``quorum_cents_per_move`` when the move needs a multisig quorum (signers' time);
* **tax impact**: a pluggable :class:`TaxImpact`. The tax-lot engine does not exist yet; until it
  does, ``tax`` is ``None`` and contributes nothing. When it lands, it plugs in here (one call per
  planned move) and the planner minimises it with the rest.

Values are rounded up to the cent (:func:`keeper.prices.to_usd_cents`): a cost is never
understated. Prices are integer cents per whole unit; never floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from keeper.assets import BTC, ETH, by_symbol
from keeper.prices import to_usd_cents
from keeper.treasury.moves import Move, Tier

GWEI = 10**9
#: gas of the transaction carrying a move, by source tier: a Vault ``sweep`` (hot) or a
#: Multisig ``execTransaction`` of a transfer (warm, cold); measured upper bounds, not averages
DEFAULT_GAS: Mapping[Tier, int] = MappingProxyType({"hot": 90_000, "warm": 130_000,
                                                   "cold": 130_000})
QUORUM_TIERS: frozenset[Tier] = frozenset({"warm", "cold"})  # multisig wallets: owners sign


class TaxImpact(Protocol):
    """The tax cost of a move (the tax-lot engine, when it exists), in integer cents >= 0."""

    def cents(self, move: Move) -> int:
        """Tax impact of carrying out ``move``."""
        ...


def requires_quorum(move: Move) -> bool:
    """Whether ``move`` leaves a multisig tier (warm, cold): only its owners can carry it out,
    so it is a proposal, never something the keeper sends alone."""
    return move.source_tier in QUORUM_TIERS


@dataclass(frozen=True)
class CostModel:
    """Fees and fixed costs of rebalancing moves (see the module docstring)."""

    prices_cents: Mapping[str, int]
    gas_price_wei: int = 30 * GWEI
    gas_per_move: Mapping[Tier, int] = field(default_factory=lambda: dict(DEFAULT_GAS))
    btc_fee_sat_per_vb: int = 10
    btc_input_vbytes: int = 105  # P2WSH 2-of-3 input (3-of-5 is ~140: set it per estate)
    btc_output_vbytes: int = 43  # P2WSH output
    btc_overhead_vbytes: int = 11
    btc_inputs_per_move: int = 1
    btc_outputs_per_move: int = 2  # destination and change
    fixed_cents_per_move: int = 0
    quorum_cents_per_move: int = 0
    tax: TaxImpact | None = None

    def __post_init__(self) -> None:
        ints = ("gas_price_wei", "btc_fee_sat_per_vb", "btc_input_vbytes", "btc_output_vbytes",
                "btc_overhead_vbytes", "btc_inputs_per_move", "btc_outputs_per_move",
                "fixed_cents_per_move", "quorum_cents_per_move")
        for name in ints:
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"{name} is a non-negative integer")
        for key, value in [*self.prices_cents.items(), *self.gas_per_move.items()]:
            if type(value) is not int or value < 0:
                raise ValueError(f"{key}: prices and gas are non-negative integers")

    def fee_cents(self, move: Move) -> int:
        """Network fee of ``move`` in cents (rounded up)."""
        if by_symbol(move.asset).chain == BTC.chain:
            vbytes = (self.btc_overhead_vbytes + self.btc_inputs_per_move * self.btc_input_vbytes
                      + self.btc_outputs_per_move * self.btc_output_vbytes)
            return to_usd_cents(vbytes * self.btc_fee_sat_per_vb, BTC.decimals,
                                self._price(BTC.symbol))
        gas = self.gas_per_move[move.source_tier]
        return to_usd_cents(gas * self.gas_price_wei, ETH.decimals, self._price(ETH.symbol))

    def move_cents(self, move: Move) -> int:
        """Everything ``move`` costs in cents: fee, fixed costs and tax impact."""
        cents = self.fee_cents(move) + self.fixed_cents_per_move
        if requires_quorum(move):
            cents += self.quorum_cents_per_move
        if self.tax is not None:
            tax = self.tax.cents(move)
            if type(tax) is not int or tax < 0:
                raise ValueError("tax impact is a non-negative integer of cents")
            cents += tax
        return cents

    def _price(self, symbol: str) -> int:
        if symbol not in self.prices_cents:
            raise ValueError(f"no price for {symbol}: the cost model cannot value the fee")
        return int(self.prices_cents[symbol])
