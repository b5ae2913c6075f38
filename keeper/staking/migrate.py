"""Programmatic Alembic entry points for the staking schema (``staking_*``, own version table)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.staking.models:StakingBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
