"""Alembic environment of the flows schema (version table ``flows_alembic_version``)."""

from keeper.flows.migrate import SCHEMA
from keeper.flows.models import FlowsBase
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, FlowsBase.metadata)
