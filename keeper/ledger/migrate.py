"""Programmatic Alembic entry points for the ledger schema (used by set-up scripts and tests)."""

from __future__ import annotations

from pathlib import Path

from keeper.schema import DomainSchema

SCHEMA = DomainSchema(
    migrations=Path(__file__).with_name("migrations"),
    version_table="ledger_alembic_version",  # own table: other domains migrate the same DB
    table_prefix="ledger_",
    metadata_ref="keeper.ledger.models:Base",
)
MIGRATIONS = SCHEMA.migrations
VERSION_TABLE = SCHEMA.version_table
include_name = SCHEMA.include_name
alembic_config = SCHEMA.alembic_config
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
