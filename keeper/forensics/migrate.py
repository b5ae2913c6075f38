"""Programmatic Alembic entry points for the forensics schema (``forensics_*`` tables)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.forensics.models:ForensicsBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
