"""Programmatic Alembic entry points for the chain sender schema (``chain_*`` tables)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.chain.models:ChainBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
