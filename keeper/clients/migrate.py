"""Programmatic Alembic entry points for the clients schema (own version table)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.clients.models:ClientsBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
