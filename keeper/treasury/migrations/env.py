"""Alembic environment of the treasury schema (version table ``treasury_alembic_version``)."""

from keeper.schema import run_alembic_env
from keeper.treasury.migrate import SCHEMA
from keeper.treasury.models import TreasuryBase

run_alembic_env(SCHEMA, TreasuryBase.metadata)
