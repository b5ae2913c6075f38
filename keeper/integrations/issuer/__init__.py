"""The stablecoin issuer role (Circle for USDC): interface, HTTP client, webhook verification.

* :class:`IssuerAPI` the interface; :class:`IssuerClient` its HTTP implementation;
* :class:`Mint`, :class:`Burn`, :class:`Reserves` typed replies (amounts in base units);
* errors: :class:`IssuerUnavailable` (retry later, same key), :class:`IssuerRejected`,
  :class:`IssuerConflict`, :class:`IssuerNotFound`, :class:`IssuerProtocolError`;
* :func:`verify_webhook` / :class:`WebhookSignatureError` for the issuer's signed webhooks.

The local stand-in of the issuer is ``python -m scripts.services.issuer``.
"""

from keeper.integrations.issuer.client import IssuerClient
from keeper.integrations.issuer.configured import (
    ISSUER_KEY_FILE,
    ISSUER_WEBHOOK_SECRET_FILE,
    issuer_from_settings,
    webhook_secret,
)
from keeper.integrations.issuer.errors import (
    IssuerConflict,
    IssuerError,
    IssuerNotFound,
    IssuerProtocolError,
    IssuerRejected,
    IssuerUnavailable,
)
from keeper.integrations.issuer.models import (
    Burn,
    BurnStatus,
    IssuerAPI,
    Mint,
    MintStatus,
    Reserves,
    new_idempotency_key,
)
from keeper.integrations.issuer.webhook import WebhookSignatureError
from keeper.integrations.issuer.webhook import verify as verify_webhook

__all__ = ["Burn", "BurnStatus", "IssuerAPI", "IssuerClient", "IssuerConflict", "IssuerError",
           "IssuerNotFound", "IssuerProtocolError", "IssuerRejected", "IssuerUnavailable", "Mint",
           "MintStatus", "Reserves", "WebhookSignatureError", "new_idempotency_key", "verify_webhook",
           "ISSUER_KEY_FILE", "ISSUER_WEBHOOK_SECRET_FILE", "issuer_from_settings",
           "webhook_secret"]
