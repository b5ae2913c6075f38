"""Programmatic Alembic entry points for the partners schema (``partners_*`` tables, own
version table)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.partners.models:PartnersBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
