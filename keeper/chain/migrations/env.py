"""Alembic environment of the chain sender schema (version table ``chain_alembic_version``)."""

from keeper.chain.migrate import SCHEMA
from keeper.chain.models import ChainBase
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, ChainBase.metadata)
