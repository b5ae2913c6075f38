"""Alembic environment of the notifications schema (version table
``notifications_alembic_version``)."""

from keeper.notifications.migrate import SCHEMA
from keeper.notifications.models import NotificationsBase
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, NotificationsBase.metadata)
