"""Programmatic Alembic entry points for the keys schema (``keys_*`` tables, own version table)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.keys.hd.registry:KeysBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
