"""Programmatic Alembic entry points for the trading schema (``trading_*`` tables)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.trading.models:TradingBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
