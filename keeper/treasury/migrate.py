"""Programmatic Alembic entry points for the treasury schema (``treasury_*`` tables)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.treasury.models:TreasuryBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
