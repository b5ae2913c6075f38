"""Programmatic Alembic entry points for the recon schema (``recon_*`` tables, own version table)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.recon.models:ReconBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
