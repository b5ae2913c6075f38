"""Alembic environment of the clients schema (version table ``clients_alembic_version``)."""

from keeper.clients.migrate import SCHEMA
from keeper.clients.models import ClientsBase
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, ClientsBase.metadata)
