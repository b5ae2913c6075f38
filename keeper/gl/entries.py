"""The EOD GL batch's figures (pure functions): closing GL balances and the day's entries.

A GL code's **closing** is its net position in integer US cents, debit-positive (debits minus
credits), read from the sub-ledger's totals (:func:`keeper.ledger.ledger_totals`, one snapshot)
and rolled up by :data:`keeper.ledger.GL_CODES`. Only the stablecoins (:data:`GL_ASSETS`, valued
1:1 in ``USD-EQUIVALENT``) are posted; a crypto asset without a fixed USD value is not.

Rounding rule: base units become cents by floor division (``10**(decimals-2)`` units a cent)
per liability code (client holdings, suspense, fees); the omnibus code is then *minus their sum*,
so every closing nets to zero and so does every day's batch (the difference of two closings).
Because closings are cumulative, a rounding remainder is never lost: it is posted the day it
adds up to a whole cent. The spec's own example (a 250 fee credit with no debit) is unbalanced;
ours never is.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from keeper.assets import by_symbol
from keeper.integrations.corebanking import GLBatch, GLEntry
from keeper.ledger import GL_CODES, AccountKind, LedgerTotals

GL_ASSETS = ("USDC", "USDT")
CURRENCY = "USD-EQUIVALENT"
MAX_DRIFT_CENTS = 4  # one cent per rolled-up line: more means the ledger itself is unbalanced


class LedgerOutOfBalanceError(Exception):
    """The omnibus total differs from the liabilities by more than rounding: do not post."""


def batch_id(business_date: date) -> str:
    """The batch id of a business date (ATLAS is idempotent on it): ``GL-BATCH-YYYY-MM-DD``."""
    return f"GL-BATCH-{business_date.isoformat()}"


def _code(kind: AccountKind, asset: str) -> str:
    return GL_CODES[kind].format(asset=asset)


def closing(totals: LedgerTotals) -> dict[str, int]:
    """Each GL code's net position (debit-positive cents) from the ledger's totals."""
    out: dict[str, int] = {}
    for asset in GL_ASSETS:
        t = totals.assets.get(asset)
        if t is None:
            continue
        unit = 10 ** (by_symbol(asset).decimals - 2)
        liabilities = {AccountKind.CLIENT: t.clients, AccountKind.SUSPENSE: t.suspense,
                       AccountKind.FEE: t.fees}
        rolled = 0
        for kind, units in liabilities.items():
            cents = units // unit
            rolled += cents
            code = _code(kind, asset)
            out[code] = out.get(code, 0) - cents  # credit-normal: a holding is a credit
        if abs(t.omnibus_total // unit - rolled) > MAX_DRIFT_CENTS:
            raise LedgerOutOfBalanceError(f"{asset}: omnibus {t.omnibus_total} units vs liabilities "
                                     f"{t.liabilities} units")
        code = _code(AccountKind.OMNIBUS, asset)
        out[code] = out.get(code, 0) + rolled
    return {k: v for k, v in out.items() if v}


def entries(previous: Mapping[str, int], current: Mapping[str, int], business_date: date,
            reference: str) -> list[GLEntry]:
    """The day's GL lines: each code's change from ``previous`` to ``current`` closing, one
    line per code that moved (a net debit or a net credit), sorted by code."""
    out = []
    for code in sorted(set(previous) | set(current)):
        move = current.get(code, 0) - previous.get(code, 0)
        if move:
            out.append(GLEntry(account=code, debit=str(max(move, 0)), credit=str(max(-move, 0)),
                               currency=CURRENCY, reference=reference,
                               description=f"net stablecoin movement {business_date.isoformat()}"))
    return out


def build(previous: Mapping[str, int], current: Mapping[str, int],
          business_date: date) -> GLBatch | None:
    """The business date's batch, or ``None`` when nothing moved."""
    bid = batch_id(business_date)
    lines = entries(previous, current, business_date, bid)
    if not lines:
        return None
    return GLBatch(batch_id=bid, posting_date=business_date, entries=lines)
