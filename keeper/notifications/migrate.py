"""Programmatic Alembic entry points for the notifications schema (``notifications_*`` tables,
own version table)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.notifications.models:NotificationsBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
