"""Alembic environment of the forensics schema (version table ``forensics_alembic_version``)."""

from keeper.forensics.migrate import SCHEMA
from keeper.forensics.models import ForensicsBase
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, ForensicsBase.metadata)
