"""Tables of ``keeper.treasury.rebalance`` (prefix ``treasury_``, on ``TreasuryBase``)."""

from __future__ import annotations

from keeper.treasury.base import TreasuryBase

__all__ = ["TreasuryBase"]
