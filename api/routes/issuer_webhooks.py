"""``POST /v1/hooks/issuer``: the stablecoin issuer's signed webhooks (mint/burn outcomes).

Authenticated by signature, not by API key: HMAC-SHA256 over the raw body and its timestamp
(:func:`keeper.integrations.issuer.verify_webhook`), the secret
(:func:`keeper.integrations.issuer.webhook_secret`) read once at start-up. A missing, wrong or stale
signature is 401 and nothing is acted on; a verified event goes to
:meth:`keeper.flows.OrderService.on_issuer_event` (which deduplicates on ``event_id``).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from api.errors import responses
from api.routes.orders import Orders
from keeper.integrations.issuer import WebhookSignatureError, verify_webhook

router = APIRouter(prefix="/v1/hooks", tags=["webhooks"], responses=responses(401, 413, 422, 503))

MAX_BODY = 64 * 1024  # bytes: an issuer event is a few hundred


@router.post("/issuer", summary="Issuer webhook (signed)")
async def issuer_webhook(request: Request, svc: Orders) -> dict[str, str]:
    """Verify the signature over the raw body, then hand the event to the order service."""
    secret: bytes | None = getattr(request.app.state, "issuer_webhook_secret", None)
    if not secret:
        raise HTTPException(503, "issuer webhooks are not configured")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, "webhook body too large")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, "webhook body too large")
    try:
        verify_webhook(secret, request.headers, body)
    except WebhookSignatureError:
        raise HTTPException(401, "invalid webhook signature") from None
    try:
        event: Any = json.loads(body)
    except ValueError:
        raise HTTPException(422, "webhook body is not JSON") from None
    if not isinstance(event, dict):
        raise HTTPException(422, "webhook body is not a JSON object")
    await run_in_threadpool(svc.on_issuer_event, event)  # blocking: off the event loop
    return {"status": "received"}
