"""Alembic environment of the trading schema (version table ``trading_alembic_version``)."""

from keeper.schema import run_alembic_env
from keeper.trading.migrate import SCHEMA
from keeper.trading.models import TradingBase

run_alembic_env(SCHEMA, TradingBase.metadata)
