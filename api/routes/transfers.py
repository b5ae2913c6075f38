"""``POST /v1/transfers`` and ``POST /v1/transfers/batch``: on-us transfers between clients.

Instant, sub-ledger only, screened (see :meth:`keeper.flows.OrderService.transfer`). The batch
endpoint takes up to :data:`MAX_BATCH` transfers under one ``Idempotency-Key``: that is how the
platform reaches its throughput target (one request, one screening pass, one group commit).
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from api.errors import responses
from api.routes.orders import (
    AmountIn,
    AssetIn,
    BoundedUnits,
    ClientId,
    IdemKey,
    OrderOut,
    Orders,
    TradePrincipal,
)
from keeper.flows import TransferItem

router = APIRouter(prefix="/v1", tags=["transfers"],
                   responses=responses(400, 401, 403, 409, 422, 503))

MAX_BATCH = 10_000


class TransferIn(BoundedUnits):
    """Move ``units`` base units of ``asset`` to another client of the bank."""

    to_client_id: ClientId
    asset: AssetIn
    units: AmountIn


class TransferBatchIn(BaseModel):
    """Up to 10,000 transfers from the caller, applied under one idempotency key."""

    model_config = ConfigDict(extra="forbid")

    items: list[TransferIn] = Field(min_length=1, max_length=MAX_BATCH)


class TransferBatchOut(BaseModel):
    """The orders of a batch, in the order of its items."""

    orders: list[OrderOut]


@router.post("/transfers", response_model=OrderOut, status_code=201,
             summary="Transfer to another client")
def transfer(body: TransferIn, principal: TradePrincipal, key: IdemKey, svc: Orders) -> OrderOut:
    """An on-us transfer from the caller to ``to_client_id``."""
    return OrderOut.of(svc.transfer(principal.client.id, body.to_client_id, body.asset,
                                    int(body.units), idempotency_key=key))


@router.post("/transfers/batch", response_model=TransferBatchOut, status_code=201,
             summary="Up to 10,000 transfers in one request")
def transfer_batch(body: TransferBatchIn, principal: TradePrincipal, key: IdemKey,
                   svc: Orders) -> Response:
    """Every item is an on-us transfer from the caller; the answer lists their orders
    (serialised once, here: up to 10,000 orders are not validated again on the way out)."""
    items = [TransferItem(t.to_client_id, t.asset, int(t.units)) for t in body.items]
    orders = svc.transfer_batch(principal.client.id, items, idempotency_key=key)
    out = TransferBatchOut(orders=[OrderOut.of(o) for o in orders])
    return Response(out.model_dump_json(), status_code=201, media_type="application/json")
