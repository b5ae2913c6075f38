"""Alembic environment of the jobs schema (version table ``jobs_alembic_version``)."""

from keeper.jobs.migrate import SCHEMA
from keeper.jobs.models import JobsBase
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, JobsBase.metadata)
