"""Notifications for clients: an outbox flows write in their own transaction, client webhook
endpoints, and a dispatcher delivering signed events with retries and a delivery log.

Public surface: :func:`enqueue` and the event names (:data:`EVENTS`), :class:`EventConflict`,
:func:`upgrade` / :func:`downgrade` (Alembic, version table ``notifications_alembic_version``).
"""

from keeper.notifications.migrate import downgrade, upgrade
from keeper.notifications.outbox import (
    DEPOSIT_CREDITED,
    EVENTS,
    ORDER_COMPLETED,
    ORDER_FAILED,
    WITHDRAWAL_CONFIRMED,
    WITHDRAWAL_DELAYED,
    EventConflict,
    enqueue,
)

__all__ = [
    "DEPOSIT_CREDITED", "EVENTS", "ORDER_COMPLETED", "ORDER_FAILED", "WITHDRAWAL_CONFIRMED",
    "WITHDRAWAL_DELAYED", "EventConflict", "downgrade", "enqueue", "upgrade",
]
