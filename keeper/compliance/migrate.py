"""Programmatic Alembic entry points for the compliance schema (``compliance_*`` tables, own
version table)."""

from __future__ import annotations

from pathlib import Path

from keeper.schema import DomainSchema

SCHEMA = DomainSchema(
    migrations=Path(__file__).with_name("migrations"),
    version_table="compliance_alembic_version",
    table_prefix="compliance_",
    metadata_ref="keeper.compliance.models:ComplianceBase",
)
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
