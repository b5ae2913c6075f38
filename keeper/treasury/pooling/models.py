"""Tables of ``keeper.treasury.pooling`` (prefix ``treasury_``, on ``TreasuryBase``)."""

from __future__ import annotations

from keeper.treasury.base import TreasuryBase

__all__ = ["TreasuryBase"]
