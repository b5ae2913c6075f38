"""Programmatic Alembic entry points for the alerts schema (``alerts_*`` tables, own version table)."""

from __future__ import annotations

from pathlib import Path

from keeper.schema import DomainSchema

SCHEMA = DomainSchema(
    migrations=Path(__file__).with_name("migrations"),
    version_table="alerts_alembic_version",
    table_prefix="alerts_",
    metadata_ref="keeper.alerts.models:AlertsBase",
)
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
