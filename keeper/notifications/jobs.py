"""The keeper job of client webhooks (``webhooks_dispatch`` in :data:`keeper.jobs.catalog.JOBS`)."""

from __future__ import annotations

from sqlalchemy import Engine

from keeper.config import Settings
from keeper.jobs.scheduler import JobRun
from keeper.notifications.credits import emit_deposit_credits
from keeper.notifications.dispatcher import WebhookDispatcher
from keeper.notifications.endpoints import master_secret


def dispatcher_from_settings(settings: Settings, engine: Engine) -> WebhookDispatcher:
    """The dispatcher ``settings`` configure (attempts, backoff; signing secret from
    ``settings.secrets_dir``). Loopback targets only with ``webhook_allow_loopback``."""
    return WebhookDispatcher(engine, master_secret(settings.secrets_dir),
                             max_attempts=settings.webhook_max_attempts,
                             backoff=settings.webhook_backoff_seconds,
                             allow_loopback=settings.webhook_allow_loopback)


def dispatch(run: JobRun) -> int:
    """Enqueue new deposit credits, fan out and deliver due webhooks; returns deliveries made."""
    engine = run.host.ledger.engine
    emit_deposit_credits(engine)
    return dispatcher_from_settings(run.host.settings, engine).dispatch_once()
