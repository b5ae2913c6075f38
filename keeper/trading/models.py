"""Every trading table, gathered on one MetaData for migrations.

Each sub-package that owns tables keeps them in its own ``models.py`` on :class:`TradingBase` and
its own Alembic branch (``branch_labels``) off revision ``0001``; importing them here puts them all
on ``TradingBase.metadata``. A sub-package adds one import line here when it adds its models.
"""

from __future__ import annotations

from keeper.trading.base import TradingBase
from keeper.trading.routing import models as routing_models
from keeper.trading.taxlots import models as taxlots_models

__all__ = ["TradingBase", "routing_models", "taxlots_models"]
