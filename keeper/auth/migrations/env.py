"""Alembic environment of the auth schema (version table ``auth_alembic_version``)."""

from keeper.auth.migrate import SCHEMA
from keeper.auth.models import AuthBase
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, AuthBase.metadata)
