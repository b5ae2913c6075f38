"""``POST /v1/hooks/partner``: the custody partner's (Warp Data's) signed webhooks.

Authenticated by signature, not by API key: HMAC-SHA256 over the raw body and its timestamp
(:func:`keeper.partners.verify_webhook`) with the secret of
:func:`keeper.partners.webhook_secret` (``app.state.partner_webhook_secret`` when set, else read
once from the settings). A missing, wrong or stale signature is 401 and changes nothing. A
verified webhook only asks for a pull (:func:`keeper.partners.request_sync`): its body is never
trusted; the pull verifies every reported transaction against the chain.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from api.errors import responses
from keeper.partners import (
    PARTNER_NAME,
    WebhookSignatureError,
    request_sync,
    verify_webhook,
    webhook_secret,
)

router = APIRouter(prefix="/v1/hooks", tags=["webhooks"], responses=responses(401, 413, 503))

MAX_BODY = 16 * 1024  # bytes: a partner event is a few hundred


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, "webhook body too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, "webhook body too large")
    return bytes(body)


@router.post("/partner", status_code=202, summary="Custody partner webhook (signed)")
async def partner_webhook(request: Request) -> dict[str, str]:
    """Verify the signature over the raw body, then ask for a pull from the partner."""
    state = request.app.state
    if not hasattr(state, "partner_webhook_secret"):
        state.partner_webhook_secret = webhook_secret(state.settings)
    secret: bytes | None = state.partner_webhook_secret
    if not secret:
        raise HTTPException(503, "partner webhooks are not configured")
    body = await _body(request)
    try:
        verify_webhook(secret, request.headers, body)
    except WebhookSignatureError:
        raise HTTPException(401, "invalid webhook signature") from None
    await run_in_threadpool(request_sync, state.engine, PARTNER_NAME)
    return {"status": "sync requested"}
