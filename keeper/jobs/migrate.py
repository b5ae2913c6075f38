"""Programmatic Alembic entry points for the jobs schema (``jobs_*`` tables, own version table)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.jobs.models:JobsBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
