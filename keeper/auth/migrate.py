"""Programmatic Alembic entry points for the auth schema (``auth_*`` tables, own version table)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.auth.models:AuthBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
