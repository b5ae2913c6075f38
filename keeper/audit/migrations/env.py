"""Alembic environment of the audit schema (version table ``audit_alembic_version``)."""

from keeper.audit.migrate import SCHEMA
from keeper.audit.models import AuditBase
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, AuditBase.metadata)
