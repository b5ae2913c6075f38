"""Every treasury table, gathered on one MetaData for migrations.

Each sub-package keeps its tables in its own ``models.py`` on :class:`TreasuryBase`, and its own
Alembic branch (``branch_labels``) off revision ``0001``; importing them here puts them all on
``TreasuryBase.metadata``.
"""

from __future__ import annotations

from keeper.treasury.base import TreasuryBase
from keeper.treasury.pooling import models as pooling_models
from keeper.treasury.rebalance import models as rebalance_models
from keeper.treasury.tiers import models as tiers_models

__all__ = ["TreasuryBase", "pooling_models", "rebalance_models", "tiers_models"]
