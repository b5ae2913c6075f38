"""Alembic environment of the ledger schema (version table ``ledger_alembic_version``)."""

from keeper.ledger.migrate import SCHEMA
from keeper.ledger.models import Base
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, Base.metadata)
