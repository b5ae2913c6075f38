"""Programmatic Alembic entry points for the clients schema (own version table)."""

from __future__ import annotations

from pathlib import Path

from keeper.schema import DomainSchema

SCHEMA = DomainSchema(
    migrations=Path(__file__).with_name("migrations"),
    version_table="clients_alembic_version",  # own table: the ledger and others share the DB
    table_prefix="clients_",
    metadata_ref="keeper.clients.models:ClientsBase",
)
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
