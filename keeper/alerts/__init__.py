"""Operational alerts delivered from the ledger's alert rows (the outbox) to channels: webhook
(HMAC-signed, retried with backoff), SMTP and log; once per channel, dead-lettered after N
attempts, every delivery record audited in its own transaction.

Public surface: :class:`AlertDispatcher`, :class:`AuditFn`, the channels (:class:`Channel`,
:class:`WebhookChannel`, :class:`SmtpChannel`, :class:`LogChannel`), :class:`AlertMessage`,
:class:`DeliveryFailed`, :func:`verify_signature`, :class:`DeliveryStatus`.
"""

from keeper.alerts.channels import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    AlertMessage,
    Channel,
    DeliveryFailed,
    LogChannel,
    SmtpChannel,
    WebhookChannel,
    sign,
    verify_signature,
)
from keeper.alerts.dispatcher import AlertDispatcher, AuditFn, DeliveryRecord
from keeper.alerts.models import DeliveryStatus

__all__ = [
    "DELIVERY_HEADER", "SIGNATURE_HEADER", "AlertDispatcher", "AlertMessage", "AuditFn", "Channel",
    "DeliveryFailed", "DeliveryRecord", "DeliveryStatus", "LogChannel", "SmtpChannel",
    "WebhookChannel", "sign", "verify_signature",
]
