"""Alembic environment of the console schema (version table ``console_alembic_version``)."""

from keeper.console.migrate import SCHEMA
from keeper.console.models import ConsoleBase
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, ConsoleBase.metadata)
