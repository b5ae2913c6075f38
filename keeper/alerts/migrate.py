"""Programmatic Alembic entry points for the alerts schema (``alerts_*`` tables, own version table)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.alerts.models:AlertsBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
