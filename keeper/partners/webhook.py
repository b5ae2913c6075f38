"""Partner webhook signatures: HMAC-SHA256 over ``"<timestamp>.<raw body>"`` (the issuer's
scheme, :func:`keeper.integrations.issuer.webhook.sign`), under the partner's header names.

Used by the local partner service to sign and by the keeper's webhook route to authenticate.
A verified webhook still only *triggers* a pull from the partner: its body is never trusted.
"""

from __future__ import annotations

from collections.abc import Mapping

from keeper.integrations.issuer import webhook as _scheme
from keeper.integrations.issuer.webhook import DEFAULT_TOLERANCE_S, WebhookSignatureError

TIMESTAMP_HEADER = "X-Warp-Timestamp"
SIGNATURE_HEADER = "X-Warp-Signature"

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookSignatureError", "signed_headers",
           "verify"]


def signed_headers(secret: bytes, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers that authenticate ``body`` (timestamp now unless given)."""
    return _scheme.signed_headers(secret, body, now, timestamp_header=TIMESTAMP_HEADER,
                                  signature_header=SIGNATURE_HEADER)


def verify(secret: bytes, headers: Mapping[str, str], body: bytes, *, now: float | None = None,
           tolerance_s: int = DEFAULT_TOLERANCE_S) -> None:
    """Raise :class:`WebhookSignatureError` unless ``body`` carries a valid, fresh signature
    (the issuer scheme's rule: constant-time compare, ``tolerance_s`` timestamp window)."""
    _scheme.verify(secret, headers, body, now=now, tolerance_s=tolerance_s,
                   timestamp_header=TIMESTAMP_HEADER, signature_header=SIGNATURE_HEADER)
