"""Alembic environment of the keys schema (version table ``keys_alembic_version``)."""

from keeper.keys.hd.registry import KeysBase
from keeper.keys.migrate import SCHEMA
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, KeysBase.metadata)
