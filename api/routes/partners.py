"""The custody partner (Warp Data): its signed webhooks, and what it holds for us (operations).

* ``GET /v1/partners/holdings`` (scope ``ops``): per client and asset what the partner holds for
  us from the last verified data (:func:`keeper.partners.holdings`), with its age and the stale
  flag (partner unreachable, never synced, or data too old); no partner call.
* ``GET /v1/partners/breaks`` (scope ``ops``): what independent verification found
  (:func:`keeper.partners.breaks`), oldest first, in cursor pages.
* ``POST /v1/hooks/partner``: the partner's signed webhooks (below).

Authenticated by signature, not by API key: HMAC-SHA256 over the raw body and its timestamp
(:func:`keeper.partners.verify_webhook`) with the secret of
:func:`keeper.partners.webhook_secret` (``app.state.partner_webhook_secret`` when set, else read
once from the settings). A missing, wrong or stale signature is 401 and changes nothing. A
verified webhook only asks for a pull (:func:`keeper.partners.request_sync`): its body is never
trusted; the pull verifies every reported transaction against the chain.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import EngineDep
from api.errors import responses
from api.routes.forensics import Cursor, OpsPrincipal, PageSize, decode_cursor, encode_cursor
from api.schemas import BaseUnits
from keeper.partners import (
    PARTNER_NAME,
    Break,
    Holding,
    WebhookSignatureError,
    breaks,
    holdings,
    request_sync,
    verify_webhook,
    webhook_secret,
)

hooks = APIRouter(prefix="/v1/hooks", tags=["webhooks"], responses=responses(401, 413, 503))
reads = APIRouter(prefix="/v1/partners", tags=["partners"], responses=responses(401, 403, 422))

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


@hooks.post("/partner", status_code=202, summary="Custody partner webhook (signed)")
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


class HoldingOut(BaseModel):
    """What the partner holds for ``client_ref`` in ``asset`` (base units), from the data last
    verified at ``as_of`` (``age_s`` seconds ago); ``stale``: do not take it as current."""

    partner: str
    client_ref: str
    asset: str
    units: BaseUnits
    address: str
    as_of: datetime | None
    age_s: float | None
    stale: bool

    @classmethod
    def of(cls, h: Holding) -> HoldingOut:
        """From a verified holding."""
        return cls(partner=PARTNER_NAME, client_ref=h.client_ref, asset=h.asset, units=h.units,
                   address=h.address, as_of=h.as_of, age_s=h.age_s, stale=h.stale)


class HoldingsOut(BaseModel):
    """Every client's holdings at the partner (per client, per asset)."""

    items: list[HoldingOut]


class BreakOut(BaseModel):
    """A mismatch between the partner's word and the chain (``kind``: one of
    ``keeper.partners.BREAK_KINDS``)."""

    id: int
    partner: str
    kind: str
    client_ref: str | None
    tx_hash: str | None
    detail: str
    created_at: datetime

    @classmethod
    def of(cls, b: Break) -> BreakOut:
        """From a recorded break."""
        return cls(id=b.id, partner=b.partner, kind=b.kind, client_ref=b.client_ref,
                   tx_hash=b.tx_hash, detail=b.detail, created_at=b.created_at)


class BreakPageOut(BaseModel):
    """Oldest first; pass ``next_cursor`` for the next page."""

    items: list[BreakOut]
    next_cursor: str | None


@reads.get("/holdings", response_model=HoldingsOut, summary="What the partner holds for us")
def get_holdings(_: OpsPrincipal, engine: EngineDep) -> HoldingsOut:
    """Per client and asset, from the last verified data, with its age and stale flag."""
    return HoldingsOut(items=[HoldingOut.of(h) for h in holdings(engine, PARTNER_NAME)])


@reads.get("/breaks", response_model=BreakPageOut, responses=responses(400),
           summary="Breaks independent verification found (cursor pages)")
def get_breaks(_: OpsPrincipal, engine: EngineDep, limit: PageSize = 50,
               cursor: Cursor = None) -> BreakPageOut:
    """The partner's breaks, oldest first, ``limit`` per page."""
    rows = breaks(engine, PARTNER_NAME, after_id=decode_cursor("breaks", cursor), limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return BreakPageOut(items=[BreakOut.of(b) for b in rows],
                        next_cursor=encode_cursor("breaks", rows[-1].id) if more else None)


router = APIRouter()  # what api.main includes: the webhook and the operations' reads
router.include_router(hooks)
router.include_router(reads)
