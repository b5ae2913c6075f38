"""Programmatic Alembic entry points for the flows schema (``flows_*`` tables, own version table)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.flows.models:FlowsBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
