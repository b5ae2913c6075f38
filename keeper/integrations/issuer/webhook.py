"""Issuer webhook signatures: HMAC-SHA256 over ``"<timestamp>.<raw body>"``.

The one home of the scheme, used by the issuer service to sign and by the keeper to verify.
Headers: :data:`TIMESTAMP_HEADER` (Unix seconds) and :data:`SIGNATURE_HEADER`
(``v1=<hex digest>``). A receiver must verify against the raw bytes it received, refuse stale
timestamps (replays) and treat any mismatch as an unauthenticated request.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-Issuer-Timestamp"
SIGNATURE_HEADER = "X-Issuer-Signature"
DEFAULT_TOLERANCE_S = 300


class WebhookSignatureError(Exception):
    """The webhook is not authentic or is stale: do not act on it."""


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, str(int(timestamp)).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def signed_headers(secret: bytes, body: bytes, now: float | None = None, *,
                   timestamp_header: str = TIMESTAMP_HEADER,
                   signature_header: str = SIGNATURE_HEADER) -> dict[str, str]:
    """The headers that authenticate ``body`` (timestamp now unless given).

    Other senders using this scheme (the custody partner) pass their own header names.
    """
    ts = int(time.time() if now is None else now)
    return {timestamp_header: str(ts), signature_header: sign(secret, ts, body)}


def verify(secret: bytes, headers: Mapping[str, str], body: bytes, *, now: float | None = None,
           tolerance_s: int = DEFAULT_TOLERANCE_S, timestamp_header: str = TIMESTAMP_HEADER,
           signature_header: str = SIGNATURE_HEADER) -> None:
    """Raise :class:`WebhookSignatureError` unless ``body`` carries a valid, fresh signature.

    ``headers`` may be any case-insensitive or plain mapping of the received headers; other
    senders using this scheme (the custody partner) pass their own header names. The signature
    is compared in constant time and the timestamp must lie within ``tolerance_s`` of now.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ts = lowered.get(timestamp_header.lower(), "")
    given = lowered.get(signature_header.lower(), "")
    if not raw_ts.isdigit() or len(raw_ts) > 12 or not given:
        raise WebhookSignatureError("missing or malformed signature headers")
    ts = int(raw_ts)
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        raise WebhookSignatureError("webhook timestamp outside the tolerance window")
    if not hmac.compare_digest(sign(secret, ts, body).encode(), given.encode()):
        raise WebhookSignatureError("webhook signature does not match")
