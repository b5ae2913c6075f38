"""Alembic environment of the compliance schema (version table ``compliance_alembic_version``)."""

from keeper.compliance.migrate import SCHEMA
from keeper.compliance.models import ComplianceBase
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, ComplianceBase.metadata)
