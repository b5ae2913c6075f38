"""Programmatic Alembic entry points for the audit schema (``audit_*`` tables, own version table)."""

from __future__ import annotations

from pathlib import Path

from keeper.schema import DomainSchema

SCHEMA = DomainSchema(
    migrations=Path(__file__).with_name("migrations"),
    version_table="audit_alembic_version",
    table_prefix="audit_",
    metadata_ref="keeper.audit.models:AuditBase",
)
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
