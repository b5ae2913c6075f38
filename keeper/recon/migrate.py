"""Programmatic Alembic entry points for the recon schema (``recon_*`` tables, own version table)."""

from __future__ import annotations

from pathlib import Path

from keeper.schema import DomainSchema

SCHEMA = DomainSchema(
    migrations=Path(__file__).with_name("migrations"),
    version_table="recon_alembic_version",
    table_prefix="recon_",
    metadata_ref="keeper.recon.models:ReconBase",
)
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
