"""Notifications for clients: an outbox flows write in their own transaction, client webhook
endpoints, and a dispatcher delivering signed events with retries and a delivery log.

Public surface: :func:`enqueue` and the event names (:data:`EVENTS`), :class:`EventConflict`;
endpoints (:func:`create_endpoint`, :func:`list_endpoints`, :func:`get_endpoint`,
:func:`delete_endpoint`, :func:`delivery_log`, :func:`master_secret`); the SSRF rule
(:func:`check_url`, :class:`TargetRefused`); :class:`WebhookDispatcher` and its headers;
:func:`emit_deposit_credits`; :func:`upgrade` / :func:`downgrade` (Alembic, version table
``notifications_alembic_version``).
"""

from keeper.notifications.credits import emit_deposit_credits
from keeper.notifications.dispatcher import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    WebhookDispatcher,
)
from keeper.notifications.endpoints import (
    MAX_ENDPOINTS,
    AttemptLog,
    CreatedEndpoint,
    Endpoint,
    TooManyEndpoints,
    UnknownEndpoint,
    create_endpoint,
    delete_endpoint,
    delivery_log,
    get_endpoint,
    list_endpoints,
    master_secret,
)
from keeper.notifications.migrate import downgrade, upgrade
from keeper.notifications.models import DeliveryStatus
from keeper.notifications.outbox import (
    DEPOSIT_CREDITED,
    EVENTS,
    ORDER_COMPLETED,
    ORDER_FAILED,
    WITHDRAWAL_CONFIRMED,
    WITHDRAWAL_DELAYED,
    EventConflict,
    Notice,
    enqueue,
    enqueue_many,
)
from keeper.notifications.targets import TargetRefused, check_url

__all__ = [
    "DELIVERY_HEADER", "DEPOSIT_CREDITED", "EVENTS", "EVENT_HEADER", "MAX_ENDPOINTS",
    "ORDER_COMPLETED", "ORDER_FAILED", "SIGNATURE_HEADER", "WITHDRAWAL_CONFIRMED",
    "WITHDRAWAL_DELAYED", "AttemptLog", "CreatedEndpoint", "DeliveryStatus", "Endpoint",
    "EventConflict", "TargetRefused", "TooManyEndpoints", "UnknownEndpoint", "WebhookDispatcher",
    "check_url", "create_endpoint", "delete_endpoint", "delivery_log", "downgrade",
    "emit_deposit_credits", "enqueue", "enqueue_many", "Notice", "get_endpoint", "list_endpoints",
    "master_secret",
    "upgrade",
]
