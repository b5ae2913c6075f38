"""Programmatic Alembic entry points for the btc schema (``btc_*`` tables, own version table)."""

from __future__ import annotations

from pathlib import Path

from keeper.schema import DomainSchema

SCHEMA = DomainSchema(
    migrations=Path(__file__).with_name("migrations"),
    version_table="btc_alembic_version",
    table_prefix="btc_",
    metadata_ref="keeper.btc.models:BtcBase",
)
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
