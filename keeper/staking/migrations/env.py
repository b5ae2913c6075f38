"""Alembic environment of the staking schema (version table ``staking_alembic_version``)."""

from keeper.schema import run_alembic_env
from keeper.staking.migrate import SCHEMA
from keeper.staking.models import StakingBase

run_alembic_env(SCHEMA, StakingBase.metadata)
