"""Alembic environment of the alerts schema (version table ``alerts_alembic_version``)."""

from keeper.alerts.migrate import SCHEMA
from keeper.alerts.models import AlertsBase
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, AlertsBase.metadata)
