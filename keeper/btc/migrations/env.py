"""Alembic environment of the btc schema (version table ``btc_alembic_version``)."""

from keeper.btc.migrate import SCHEMA
from keeper.btc.models import BtcBase
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, BtcBase.metadata)
