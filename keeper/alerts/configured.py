"""The alert channels and dispatcher a deployment configured (the one place they are built).

Where alerts go is in :class:`~keeper.config.Settings` (``alert_webhook_url``,
``alert_smtp_*``, ``alert_max_attempts``, ``alert_backoff_seconds``). Their secrets are not
settings: the webhook's HMAC signing secret and the SMTP password are 0600 files in the secrets
folder (``settings.secrets_dir``: :data:`WEBHOOK_SECRET_FILE`, :data:`SMTP_PASSWORD_FILE`), read by
:class:`~keeper.keys.secrets.PinSource`. A channel that is configured but lacks its secret is
refused at start-up (``LookupError``): an unsigned webhook or a mail server that rejects every
login would only fail later, silently.
"""

from __future__ import annotations

from keeper.alerts.channels import Channel, LogChannel, SmtpChannel, WebhookChannel
from keeper.alerts.dispatcher import AlertDispatcher, AuditFn
from keeper.config import ENVIRONMENT, Settings
from keeper.keys.secrets import PinSource
from keeper.ledger import Ledger

WEBHOOK_SECRET_FILE = "alert-webhook.secret"  # noqa: S105 - a file name, not a secret
SMTP_PASSWORD_FILE = "alert-smtp.password"  # noqa: S105 - a file name, not a secret


def _secret(settings: Settings, name: str, what: str) -> str:
    path = settings.secrets_dir / name
    try:
        return PinSource(file=path).read().reveal()
    except LookupError:
        raise LookupError(f"{what} missing: write it to {path} (mode 0600)") from None


def channels_from_settings(settings: Settings) -> list[Channel]:
    """The webhook and SMTP channels ``settings`` configure (none when unset), besides the log."""
    channels: list[Channel] = []
    if settings.alert_webhook_url:
        secret = _secret(settings, WEBHOOK_SECRET_FILE, "alert webhook secret")
        channels.append(WebhookChannel("webhook", settings.alert_webhook_url, secret.encode()))
    if settings.alert_smtp_host:
        if not settings.alert_smtp_from or not settings.alert_smtp_to:
            raise ValueError(f"{ENVIRONMENT['alert_smtp_host']} needs "
                             f"{ENVIRONMENT['alert_smtp_from']} and {ENVIRONMENT['alert_smtp_to']}")
        user = settings.alert_smtp_user or None
        password = _secret(settings, SMTP_PASSWORD_FILE, "alert SMTP password") if user else None
        channels.append(SmtpChannel("smtp", settings.alert_smtp_host, settings.alert_smtp_port,
                                    settings.alert_smtp_from, settings.alert_smtp_to,
                                    starttls=settings.alert_smtp_starttls, username=user,
                                    password=password))
    return channels


def dispatcher_from_settings(settings: Settings, ledger: Ledger, *,
                             extra: list[Channel] | tuple[Channel, ...] = (),
                             audit: AuditFn | None = None) -> AlertDispatcher:
    """A dispatcher over the log, ``extra`` and the configured channels, retrying as configured."""
    return AlertDispatcher(ledger, [LogChannel(), *extra, *channels_from_settings(settings)],
                           audit=audit, max_attempts=settings.alert_max_attempts,
                           backoff=settings.alert_backoff_seconds,
                           per_kind_per_hour=settings.alert_max_per_kind_per_hour)
