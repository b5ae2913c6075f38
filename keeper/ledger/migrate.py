"""Programmatic Alembic entry points for the ledger schema (used by set-up scripts and tests)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.ledger.models:Base")
MIGRATIONS = SCHEMA.migrations
VERSION_TABLE = SCHEMA.version_table
include_name = SCHEMA.include_name
alembic_config = SCHEMA.alembic_config
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
