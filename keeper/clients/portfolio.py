"""What a client holds: balances per asset and monthly statements, read from the ledger.

Ledger asset keys are the symbols of :mod:`keeper.assets` (``ETH``, ``USDC``, ``USDT``, ``BTC``).
Amounts stay Python ``int`` in base units all the way; rendering them is the caller's business.
"""

from __future__ import annotations

from dataclasses import dataclass

from keeper.assets import ASSETS, Asset
from keeper.ledger import Ledger, Statement


@dataclass(frozen=True, slots=True)
class AssetBalance:
    """A client's holding of one asset, in base units.

    ``balance`` is posted credits minus posted debits; ``available`` also deducts open holds
    (pending debits, e.g. withdrawals in flight); ``pending_credits`` are incoming holds.
    """

    asset: Asset
    balance: int
    available: int
    pending_credits: int


def balances(ledger: Ledger, client_id: str) -> list[AssetBalance]:
    """The client's balance of every custodied asset (zero where it never held any).

    Read-only: one query over the client's existing accounts; nothing is created on a read.
    """
    held = ledger.client_balances(client_id)
    out = []
    for asset in ASSETS.values():
        bal = held.get(asset.symbol)
        if bal is None:
            out.append(AssetBalance(asset, 0, 0, 0))
        else:
            out.append(AssetBalance(asset, bal.credit_balance, bal.available, bal.credits_pending))
    return out


def statement(ledger: Ledger, client_id: str, asset: Asset, year: int, month: int) -> Statement:
    """The client's statement of ``asset`` for ``year``-``month`` (running balance per line)."""
    if not 1 <= month <= 12:
        raise ValueError("month must be 1 to 12")
    return ledger.statement(client_id, asset.symbol, year, month)
