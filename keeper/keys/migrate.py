"""Programmatic Alembic entry points for the keys schema (``keys_*`` tables, own version table)."""

from __future__ import annotations

from pathlib import Path

from keeper.schema import DomainSchema

SCHEMA = DomainSchema(
    migrations=Path(__file__).with_name("migrations"),
    version_table="keys_alembic_version",
    table_prefix="keys_",
    metadata_ref="keeper.keys.hd.registry:KeysBase",
)
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
