"""Partner webhook signatures: HMAC-SHA256 over ``"<timestamp>.<raw body>"`` (the issuer's
scheme, :func:`keeper.integrations.issuer.webhook.sign`), under the partner's header names.

Used by the local partner service to sign and by the keeper's webhook route to authenticate.
A verified webhook still only *triggers* a pull from the partner: its body is never trusted.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping

from keeper.integrations.issuer.webhook import DEFAULT_TOLERANCE_S, WebhookSignatureError, sign

TIMESTAMP_HEADER = "X-Warp-Timestamp"
SIGNATURE_HEADER = "X-Warp-Signature"

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookSignatureError", "signed_headers",
           "verify"]


def signed_headers(secret: bytes, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers that authenticate ``body`` (timestamp now unless given)."""
    ts = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, ts, body)}


def verify(secret: bytes, headers: Mapping[str, str], body: bytes, *, now: float | None = None,
           tolerance_s: int = DEFAULT_TOLERANCE_S) -> None:
    """Raise :class:`WebhookSignatureError` unless ``body`` carries a valid, fresh signature."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ts = lowered.get(TIMESTAMP_HEADER.lower(), "")
    given = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not raw_ts.isdigit() or len(raw_ts) > 12 or not given:
        raise WebhookSignatureError("missing or malformed signature headers")
    ts = int(raw_ts)
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        raise WebhookSignatureError("webhook timestamp outside the tolerance window")
    if not hmac.compare_digest(sign(secret, ts, body).encode(), given.encode()):
        raise WebhookSignatureError("webhook signature does not match")
