"""Programmatic Alembic entry points for the audit schema (``audit_*`` tables, own version table)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.audit.models:AuditBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
