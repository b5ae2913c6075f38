"""Programmatic Alembic entry points of the safetx schema (``safetx_*``, own version table)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.safetx.models:SafeTxBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
