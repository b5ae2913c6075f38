"""Alembic environment of the gl schema (version table ``gl_alembic_version``)."""

from keeper.gl.migrate import SCHEMA
from keeper.gl.models import GLBase
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, GLBase.metadata)
