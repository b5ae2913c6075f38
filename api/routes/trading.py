"""``/v1/trading``: the trading desk (:class:`keeper.trading.desk.TradingDesk`) for the bank's
trading operations (scope ``ops``).

* ``POST /v1/trading/orders``: route a parent order; its ``id`` (the caller's) is the parent id,
  so a retry returns the same execution (201 either way); the client's jurisdiction is its KYC
  country (``jurisdiction`` optional; given, it must match); refused by the client check
  (unknown client, may not trade, no country, another jurisdiction) or the jurisdiction rules:
  422 naming the rule and the reason (nothing stored or sent); the id reused with other
  contents: 409;
* ``GET /v1/trading/orders/{id}``: status, fills, VWAP, fees, baseline and improvement,
  compliance cost, exclusions; ``GET /v1/trading/orders/{id}/report``: the best-execution report
  (HTML; ``?format=pdf``: PDF);
* ``GET /v1/trading/clients/{client_id}/taxlots``: a client's open tax lots.

Amounts are decimal strings of minor units. Without a venue registry (setting
``trading_venues_file``) every route answers 503. The handlers only translate: every rule is
the desk's.
"""

from __future__ import annotations

import logging
import threading
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, Security
from pydantic import BaseModel, ConfigDict, Field

from api.deps import get_principal
from api.errors import not_found, responses
from keeper.clients import OPS, Principal
from keeper.trading.desk import ClientRefusedError, TradingDesk, lots_view, order_view
from keeper.trading.routing import OrderRefusedError, ParentMismatchError
from keeper.trading.types import MARKETS, ParentOrder, Side

router = APIRouter(prefix="/v1/trading", tags=["trading desk"],
                   responses=responses(401, 403, 422, 503))

ORDER_ID = r"^[A-Za-z0-9._:-]{1,48}$"  # routing's parent ids (they make venue client order ids)
CLIENT_ID = r"^[A-Za-z0-9._:-]{1,64}$"  # the tax-lot book's client ids
Units = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,37}$", examples=["100000000"])]
OpsPrincipal = Annotated[Principal, Security(get_principal, scopes=[OPS])]
Symbol = StrEnum("Symbol", {s: s for s in sorted(MARKETS)})  # type: ignore[misc]
Symbol.__doc__ = "A market the venues trade."
_BUILD = threading.Lock()
log = logging.getLogger("api.trading")


def get_desk(request: Request) -> TradingDesk:
    """The app's desk, built on first use from its settings: 503 when no venue registry is
    configured, or while the registry, a venue key file or the rules file cannot be read (the
    cause is logged, not answered; the next request tries again)."""
    state = request.app.state
    with _BUILD:
        if not hasattr(state, "trading"):
            try:
                state.trading = TradingDesk.from_settings(state.settings, state.engine,
                                                          state.ledger.raise_alert)
            except (OSError, ValueError) as e:
                log.error("trading desk unavailable: %s", e)
                raise HTTPException(503, "trading is unavailable: its configuration cannot "
                                    "be read") from None
    if state.trading is None:
        raise HTTPException(503, "trading is not configured: no venue registry")
    return state.trading


Desk = Annotated[TradingDesk, Depends(get_desk)]


class OrderIn(BaseModel):
    """A parent order: ``amount`` in base minor units, ``limit_price`` (optional) in quote
    minor units per whole base unit; ``id`` is the caller's and makes retries idempotent.
    ``jurisdiction`` (optional) is the client's KYC country; given, it must match it."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=ORDER_ID)]
    client_id: Annotated[str, Field(pattern=CLIENT_ID)]
    symbol: Symbol
    side: Side
    amount: Units
    limit_price: Units | None = None
    jurisdiction: Annotated[str | None, Field(pattern=r"^[A-Z]{2}$", examples=["US"])] = None
    client_type: Annotated[str, Field(pattern=r"^[a-z_]{1,32}$", examples=["institutional"])]


class FillOut(BaseModel):
    """One fill on one venue (minor units; ``price`` per whole base unit; ``timestamp`` ms)."""

    venue: str
    order_id: str
    amount: str
    price: str
    cost: str
    fee: str
    timestamp: int


class ExclusionOut(BaseModel):
    """A venue left out of decision ``round``, and why."""

    round: int
    venue: str
    reason: str
    detail: str | None = None


class BlockOut(BaseModel):
    """A venue the jurisdiction rules refused a child on."""

    venue: str
    rule: str
    reason: str


class OrderOut(BaseModel):
    """A parent order and its execution (see :func:`keeper.trading.desk.order_view`)."""

    id: str
    client_id: str
    symbol: str
    side: str
    amount: str
    limit_price: str | None
    jurisdiction: str
    client_type: str
    created_at: int
    status: str
    reason: str | None
    filled: str
    notional: str
    fees: str
    all_in: str
    vwap: str | None
    arrival_mid: str | None
    slippage_vs_arrival_bps: str | None
    baseline: str | None
    baseline_all_in: str | None
    improvement: str | None
    improvement_bps: str | None
    compliance_cost: str | None
    fills: list[FillOut]
    exclusions: list[ExclusionOut]
    blocked: list[BlockOut]


class LotOut(BaseModel):
    """An open lot: what remains of one acquisition (``basis`` in USD cents)."""

    asset: str
    origin: str
    location: str
    acquired_at: int
    quantity: str
    basis: str


class LotsOut(BaseModel):
    """A client's open tax lots."""

    client_id: str
    lots: list[LotOut]


OrderId = Annotated[str, Path(pattern=ORDER_ID)]


def _order(desk: TradingDesk, parent_id: str) -> dict[str, Any]:
    try:
        return order_view(desk.execution(parent_id), desk.report(parent_id))
    except KeyError:
        raise not_found("order") from None


@router.post("/orders", response_model=OrderOut, status_code=201,
             responses=responses(409), summary="Route a parent order")
def submit(body: OrderIn, principal: OpsPrincipal, desk: Desk) -> dict[str, Any]:
    """Route the order across the venues under the rules of the client's KYC country and record its
    fills in the client's tax lots."""
    parent = ParentOrder(body.id, body.client_id, body.symbol.value, body.side, int(body.amount),
                         None if body.limit_price is None else int(body.limit_price),
                         body.jurisdiction, body.client_type, desk.clock())
    try:
        ex = desk.submit(parent, actor=str(principal.client.id))
    except OrderRefusedError as e:
        raise HTTPException(422, f"refused by {e.decision.rule}: {e.decision.reason}") from None
    except ClientRefusedError as e:
        raise HTTPException(422, f"refused by {e.rule}: {e.reason}") from None
    except ParentMismatchError as e:
        raise HTTPException(409, str(e)) from None
    except ValueError as e:  # a parent routing cannot take as written: nothing stored
        raise HTTPException(422, f"refused: {e}") from None
    return order_view(ex, desk.report(ex.parent.id))


@router.get("/orders/{order_id}", response_model=OrderOut, responses=responses(404),
            summary="A parent order and its execution")
def show(order_id: OrderId, _: OpsPrincipal, desk: Desk) -> dict[str, Any]:
    """Status, fills, VWAP, fees, the best single venue baseline and the improvement on it,
    the cost of compliance and the venues left out."""
    return _order(desk, order_id)


class ReportFormat(StrEnum):
    """The report's format."""

    html = "html"
    pdf = "pdf"


@router.get("/orders/{order_id}/report", response_class=Response, summary="Best-execution report",
            responses={**responses(404), 200: {"content": {"text/html": {"schema": {"type": "string"}},
                                                           "application/pdf": {"schema": {
                                                               "type": "string",
                                                               "format": "binary"}}},
                                               "description": "The report"}})
def report(order_id: OrderId, _: OpsPrincipal, desk: Desk,
           format: Annotated[ReportFormat, Query()] = ReportFormat.html) -> Response:  # noqa: A002
    """The compliance report of one order (HTML, or PDF with ``?format=pdf``)."""
    try:
        if format is ReportFormat.pdf:
            return Response(desk.report_pdf(order_id), media_type="application/pdf")
        return Response(desk.report_html(order_id), media_type="text/html")
    except KeyError:
        raise not_found("order") from None


@router.get("/clients/{client_id}/taxlots", response_model=LotsOut, summary="A client's tax lots")
def taxlots(client_id: Annotated[str, Path(pattern=CLIENT_ID)], _: OpsPrincipal,
            desk: Desk) -> dict[str, Any]:
    """The client's open lots per asset (none: an empty list)."""
    return lots_view(client_id, desk.lots(client_id))
