"""Programmatic Alembic entry points for the compliance schema (``compliance_*`` tables, own
version table)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.compliance.models:ComplianceBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
