"""Programmatic Alembic entry points for the gl schema (``gl_*`` tables, own version table)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.gl.models:GLBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
