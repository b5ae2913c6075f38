"""``POST /v1/orders/buy``, ``POST /v1/orders/sell``, ``GET /v1/orders/{id}``: the trading API.

Handlers only translate HTTP to :class:`keeper.flows.OrderService` calls and back: every rule
(limits, fees, screening, states) lives in the service. This module is also the one home of
what the other write routes share: the ``Idempotency-Key`` header (required on every POST: the
same key and body answer the same order; the same key with another body is 409), the order's
JSON, the service dependency (503 while no core banking / issuer is configured) and the mapping
of the service's refusals to HTTP (:func:`install_flow_errors`): each refusal keeps its stable
``code`` in the API's one error shape.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Self

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Request, Security
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Engine

from api.deps import get_principal
from api.errors import Error, ErrorBody, responses
from api.schemas import BaseUnits
from keeper.assets import by_symbol
from keeper.clients import CLIENT_READ, CUSTOMER_TRADE, Principal
from keeper.config import Settings
from keeper.flows import (
    ComplianceHold,
    FlowError,
    IdempotencyConflict,
    Order,
    OrderNotFound,
    OrderService,
    Refused,
    UnknownCustomer,
)
from keeper.ledger import Ledger

router = APIRouter(prefix="/v1", tags=["orders"], responses=responses(400, 401, 403, 409, 422, 503))

IDEMPOTENCY_KEY = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
# refusal codes that are about who asks, not what is asked (403), or that the platform cannot
# serve now (503); every other refusal is 422
FORBIDDEN = frozenset({"account_inactive", "kyc_expired", "frozen", "compliance_hold"})
UNAVAILABLE = frozenset({"halted", "unavailable"})


# Amounts arrive as decimal strings of integer base units (never JSON numbers: no floats).
AmountIn = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,37}$", examples=["1000000"])]
# No amount may exceed a trillion whole coins (or US dollars): more than any supply, and what
# every downstream figure (USD cents in screening, ATLAS) holds in 64 bits.
MAX_WHOLE = 10**12


def within_bounds(units: int | str, decimals: int, what: str) -> None:
    """``ValueError`` when ``units`` (base units of ``decimals``) exceed :data:`MAX_WHOLE`."""
    if int(units) > MAX_WHOLE * 10**decimals:
        raise ValueError(f"amount above {MAX_WHOLE:,} {what}")
AssetIn = Annotated[str, Field(pattern=r"^(USDC|USDT)$", description="A stablecoin")]
ClientId = Annotated[str, Field(pattern=ID)]

TradePrincipal = Annotated[Principal, Security(get_principal, scopes=[CUSTOMER_TRADE])]
ReadPrincipal = Annotated[Principal, Security(get_principal, scopes=[CLIENT_READ])]


def idempotency_key(key: Annotated[str | None, Header(
        alias="Idempotency-Key",
        description="Required: 1-128 characters of A-Z a-z 0-9 . _ : - (400 when missing or "
        "malformed). The same key and body answer the same order; another body is 409.",
        json_schema_extra={"pattern": IDEMPOTENCY_KEY})] = None) -> str:
    """The request's ``Idempotency-Key`` (400 when missing or not 1-128 safe characters)."""
    if key is None:
        raise HTTPException(400, "the Idempotency-Key header is required on this request")
    if not re.fullmatch(IDEMPOTENCY_KEY, key):
        raise HTTPException(400, "Idempotency-Key must be 1-128 characters of A-Z a-z 0-9 . _ : -")
    return key


IdemKey = Annotated[str, Depends(idempotency_key)]


def order_service(request: Request) -> OrderService:
    """The app's order service (503 while core banking or the issuer is not configured)."""
    svc = getattr(request.app.state, "orders", None)
    if svc is None:
        raise HTTPException(503, "trading is not available: core banking and the issuer are "
                            "not configured")
    return svc


Orders = Annotated[OrderService, Depends(order_service)]


class OrderOut(BaseModel):
    """An order: amounts in base units (``units``) and US cents (``fiat_cents``, ``fee_cents``)."""

    id: str
    kind: str
    state: str
    asset: str
    units: BaseUnits
    fiat_cents: BaseUnits
    fee_cents: BaseUnits
    reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, o: Order) -> OrderOut:
        """From the service's order."""
        return cls(id=o.id, kind=o.kind, state=o.state, asset=o.asset, units=o.units,
                   fiat_cents=o.fiat_cents, fee_cents=o.fee_cents, reason=o.reason,
                   created_at=o.created_at, updated_at=o.updated_at)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BoundedUnits(_Body):
    """A body whose ``units`` of ``asset`` are bounded (:func:`within_bounds`)."""

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        asset = by_symbol(str(getattr(self, "asset", "")))
        within_bounds(getattr(self, "units", 0), asset.decimals, asset.symbol)
        return self


class BuyIn(_Body):
    """Buy ``asset`` for ``fiat_cents`` US cents (the fee is charged on top)."""

    asset: AssetIn
    fiat_cents: AmountIn

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        within_bounds(self.fiat_cents, 2, "USD")
        return self


class SellIn(BoundedUnits):
    """Sell ``units`` base units of ``asset`` for US dollars (net of the fee)."""

    asset: AssetIn
    units: AmountIn


@router.post("/orders/buy", response_model=OrderOut, status_code=201, summary="Buy a stablecoin")
def buy(body: BuyIn, principal: TradePrincipal, key: IdemKey, svc: Orders) -> OrderOut:
    """Debit the client's fiat account and deliver the stablecoin (see the order's state)."""
    return OrderOut.of(svc.buy(principal.client.id, body.asset, int(body.fiat_cents),
                               idempotency_key=key))


@router.post("/orders/sell", response_model=OrderOut, status_code=201, summary="Sell a stablecoin")
def sell(body: SellIn, principal: TradePrincipal, key: IdemKey, svc: Orders) -> OrderOut:
    """Debit the client's stablecoin and credit its fiat account, net of the fee."""
    return OrderOut.of(svc.sell(principal.client.id, body.asset, int(body.units),
                                idempotency_key=key))


@router.get("/orders/{order_id}", response_model=OrderOut, summary="One order (any kind)",
            responses=responses(404))
def get_order(order_id: Annotated[str, Path(pattern=ID)], principal: ReadPrincipal,
              svc: Orders) -> OrderOut:
    """The caller's order; another client's id answers 404 like an unknown one."""
    return OrderOut.of(svc.get(principal.client.id, order_id))


# --- the service's refusals as HTTP ---------------------------------------------------------

def _body(status: int, code: str, message: str) -> JSONResponse:
    body = ErrorBody(error=Error(code=code, message=message))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status)


def flow_error_response(exc: FlowError) -> tuple[int, str, str]:
    """``(status, code, message)`` of a service refusal."""
    if isinstance(exc, Refused):
        status = 403 if exc.code in FORBIDDEN else 503 if exc.code in UNAVAILABLE else 422
        return status, exc.code, exc.message
    if isinstance(exc, IdempotencyConflict):
        return 409, "idempotency_conflict", str(exc)
    if isinstance(exc, OrderNotFound):
        return 404, "not_found", "order not found"
    if isinstance(exc, UnknownCustomer):
        return 400, "unknown_customer", str(exc) or "customer not onboarded for stablecoins"
    if isinstance(exc, ComplianceHold):
        return 403, "compliance_hold", str(exc) or "the customer is under a compliance hold"
    return 422, "refused", str(exc)


async def _flow_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FlowError)
    return _body(*flow_error_response(exc))


def install_flow_errors(app: FastAPI) -> None:
    """Answer every :class:`keeper.flows.FlowError` in the API's error shape."""
    app.add_exception_handler(FlowError, _flow_error)



# --- building the service from the settings -------------------------------------------------

def order_service_from_settings(settings: Settings, engine: Engine,
                                ledger: Ledger) -> OrderService | None:
    """The order service of :func:`keeper.flows.from_settings` (``None`` when core banking or
    the issuer is not configured: the trading routes then answer 503), with on-chain
    withdrawals signed by the local HSM token under ``settings.data_dir`` when there is one and
    a vault is deployed. Vendor keys are 0600 files under ``settings.secrets_dir`` (a missing
    or readable-by-others one stops start-up)."""
    from keeper import flows
    from keeper.deployments import read_deployment
    from keeper.keys.hsm import HsmConfig, ensure_local_token

    def local_hsm() -> HsmConfig | None:
        if ((settings.data_dir / "hsm" / "softhsm2.conf").exists()
                and read_deployment(settings.deployments_dir, settings.chain_id) is not None):
            return ensure_local_token(settings.data_dir)
        return None

    return flows.from_settings(settings, engine, ledger, hsm=local_hsm)
