"""Programmatic Alembic entry points for the jobs schema (``jobs_*`` tables, own version table)."""

from __future__ import annotations

from pathlib import Path

from keeper.schema import DomainSchema

SCHEMA = DomainSchema(
    migrations=Path(__file__).with_name("migrations"),
    version_table="jobs_alembic_version",
    table_prefix="jobs_",
    metadata_ref="keeper.jobs.models:JobsBase",
)
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
