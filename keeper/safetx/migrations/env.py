"""Alembic environment of the safetx schema (version table ``safetx_alembic_version``)."""

from keeper.safetx.migrate import SCHEMA
from keeper.safetx.models import SafeTxBase
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, SafeTxBase.metadata)
