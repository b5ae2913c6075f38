"""Alert channels: one interface (:class:`Channel`), three kinds (webhook, SMTP, log).

A channel's ``send`` returns when the alert was accepted and raises otherwise; the dispatcher
retries. Errors a channel raises carry no secrets (no webhook URL, no SMTP password): they are
stored in delivery records and the audit trail.

Webhook signatures (like Stripe's): header ``Strongroom-Signature: t=<unix seconds>,v1=<hex>``
where ``v1 = HMAC-SHA256(secret, "<t>." + body)``; receivers check it with
:func:`verify_signature` (constant-time, with a replay window). ``Strongroom-Delivery`` carries
the alert's key so a receiver can drop a repeat (a send whose answer was lost is retried).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import smtplib
import time
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

import httpx

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "Strongroom-Signature"
DELIVERY_HEADER = "Strongroom-Delivery"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class DeliveryFailed(Exception):  # noqa: N818 - reads as what happened
    """A channel did not accept the alert; the message is safe to store (no secrets)."""


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """An alert as channels see it."""

    key: str
    kind: str
    message: str
    ref: str | None
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The alert as a JSON object (the webhook body)."""
        return {"key": self.key, "kind": self.kind, "message": self.message, "ref": self.ref,
                "created_at": self.created_at.isoformat()}


class Channel(Protocol):
    """Somewhere alerts go. ``name`` is unique among a dispatcher's channels and stable."""

    name: str

    def send(self, alert: AlertMessage) -> None:
        """Deliver ``alert``; raise (preferably :class:`DeliveryFailed`) if not accepted."""


@dataclass(slots=True)
class LogChannel:
    """Writes each alert to the ``keeper.alerts`` log at WARNING."""

    name: str = "log"

    def send(self, alert: AlertMessage) -> None:
        """Log the alert on one line (control characters replaced: no forged log lines)."""
        log.warning("ALERT %s [%s]: %s", one_line(alert.kind), one_line(alert.key),
                    one_line(alert.message))


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>." + body`` under ``secret``."""
    return hmac.new(secret, f"{int(timestamp)}.".encode() + body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, header: str, body: bytes, *, now: float | None = None,
                     tolerance: float = 300.0) -> bool:
    """Whether ``header`` (``t=...,v1=...``) signs ``body`` under ``secret`` and its timestamp
    is within ``tolerance`` seconds of ``now``. Malformed headers are simply invalid."""
    parts: dict[str, list[str]] = {}
    for item in (header or "").split(","):
        k, sep, v = item.strip().partition("=")
        if sep:
            parts.setdefault(k, []).append(v)
    try:
        ts = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    want = sign(secret, ts, body)
    return any(hmac.compare_digest(want, v) for v in parts.get("v1", []))


@dataclass(slots=True)
class WebhookChannel:
    """POSTs the alert as JSON, signed with ``secret``; any non-2xx answer is a failure."""

    name: str
    url: str = field(repr=False)  # may embed a token
    secret: bytes = field(repr=False)
    timeout: float = 10.0

    def send(self, alert: AlertMessage) -> None:
        """Sign and POST ``alert``; raises :class:`DeliveryFailed` unless answered 2xx."""
        body = json.dumps(alert.to_json(), sort_keys=True, separators=(",", ":")).encode()
        ts = int(time.time())
        headers = {"Content-Type": "application/json", DELIVERY_HEADER: alert.key,
                   SIGNATURE_HEADER: f"t={ts},v1={sign(self.secret, ts, body)}"}
        try:  # streamed and never read: a hostile endpoint cannot make us buffer a huge answer
            with httpx.stream("POST", self.url, content=body, headers=headers,
                              timeout=self.timeout, follow_redirects=False) as resp:
                status = resp.status_code
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"webhook {self.name}: {type(exc).__name__}") from None
        if not 200 <= status < 300:
            raise DeliveryFailed(f"webhook {self.name}: HTTP {status}")


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` on one line without control characters (no header or log-line injection),
    shortened to ``limit`` characters when given."""
    one = _CONTROL.sub(" ", text).strip()
    return one if limit is None or len(one) <= limit else one[: limit - 3] + "..."


@dataclass(slots=True)
class SmtpChannel:
    """Mails each alert to ``recipients`` through an SMTP server (optionally STARTTLS + login)."""

    name: str
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0

    def message(self, alert: AlertMessage) -> EmailMessage:
        """The mail for ``alert`` (subject and headers free of control characters)."""
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Subject"] = one_line(f"[strongroom] {alert.kind}: {alert.message}", 120)
        msg["Message-ID"] = make_msgid(domain="strongroom.alerts")
        msg["X-Strongroom-Alert"] = one_line(alert.key, 200)
        msg.set_content(f"{alert.kind}\n\n{alert.message}\n\nref: {alert.ref}\n"
                        f"raised: {alert.created_at.isoformat()}\nkey: {alert.key}\n")
        return msg

    def send(self, alert: AlertMessage) -> None:
        """Hand the mail to the server; raises :class:`DeliveryFailed` unless it accepted it."""
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(self.message(alert))
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"smtp {self.name}: {type(exc).__name__}") from None
        if refused:
            raise DeliveryFailed(f"smtp {self.name}: {len(refused)} recipient(s) refused")
