"""The venue's HTTP API, modelled on an exchange REST API.

Public (``/api/v1/markets``, ``/orderbook``, ``/ticker``, ``/time``) and private (``X-API-KEY``:
``/api/v1/orders``, ``/balance``) endpoints; every ``/api`` request waits the profile's latency
(half before it is processed, half before the answer leaves: a client that times out in between
has had its order placed, as with a real venue),
is answered 503 (``Retry-After``) while the venue is down and 429 (``Retry-After``, and
``retry_after_ms`` in the body) past the rate limit of its key. Errors are
``{"error": {"code", "message"}}``. ``/admin`` (``X-ADMIN-KEY``) funds our account and sets the
faults. Every change is written to the venue's SQLite file before it is answered.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from keeper.trading.types import (
    MARKETS,
    AuthenticationError,
    BadSymbol,
    BaseError,
    ExchangeNotAvailable,
    InsufficientFunds,
    InvalidOrder,
    OnMaintenance,
    OrderNotFound,
    OrderType,
    Side,
)
from scripts.services.venues.faults import FaultState
from scripts.services.venues.simulator import Simulator
from scripts.services.venues.wire import balance_json, book_json, order_json, ticker_json

log = logging.getLogger("venue")
UInt = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,35}$")]
SignedInt = Annotated[str, Field(pattern=r"^-?[1-9][0-9]{0,35}$")]
Symbol = Annotated[str, Query(max_length=20)]
ClientOrderIdQuery = Annotated[str, Query(alias="clientOrderId", max_length=64)]
# CCXT error class -> (HTTP status, code); the first matching class wins
ERRORS: tuple[tuple[type[BaseError], int, str], ...] = (
    (OrderNotFound, 404, "ORDER_NOT_FOUND"), (BadSymbol, 400, "BAD_SYMBOL"),
    (InsufficientFunds, 400, "INSUFFICIENT_FUNDS"), (InvalidOrder, 400, "INVALID_ORDER"),
    (OnMaintenance, 503, "MAINTENANCE"), (ExchangeNotAvailable, 503, "UNAVAILABLE"),
    (AuthenticationError, 401, "AUTHENTICATION"))


def now_ms() -> int:
    """Wall-clock milliseconds."""
    return time.time_ns() // 1_000_000


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
          **extra: Any) -> JSONResponse:
    """The venue's error body."""
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status, headers=headers)


class OrderRequest(BaseModel):
    """``POST /api/v1/orders``."""

    model_config = ConfigDict(extra="forbid")
    symbol: str = Field(max_length=20)
    type: Literal["market", "limit"]
    side: Literal["buy", "sell"]
    amount: UInt
    price: UInt | None = None
    clientOrderId: str | None = Field(None, pattern=r"^[A-Za-z0-9._:-]{1,64}$")  # noqa: N815 - wire name
    timeInForce: Literal["GTC", "IOC"] = "GTC"  # noqa: N815


class FundRequest(BaseModel):
    """``POST /admin/fund``: credit (or debit) our account."""

    model_config = ConfigDict(extra="forbid")
    currency: str = Field(pattern=r"^[A-Z]{2,10}$")
    amount: SignedInt


class FaultPatch(BaseModel):
    """``PATCH /admin/faults``: set any of the overrides; ``*_for_ms`` are from now."""

    model_config = ConfigDict(extra="forbid")
    down_until_ms: int | None = Field(None, ge=0)
    down_for_ms: int | None = Field(None, ge=0, le=10**10)
    dead: bool | None = None
    stale_until_ms: int | None = Field(None, ge=0)
    stale_for_ms: int | None = Field(None, ge=0, le=10**10)
    wrong_until_ms: int | None = Field(None, ge=0)
    wrong_for_ms: int | None = Field(None, ge=0, le=10**10)
    wrong_ppm: int | None = Field(None, gt=-500_000, lt=500_000)
    latency_ms: int | None = Field(None, ge=0, le=60_000)
    rate_limit_rps: int | None = Field(None, ge=0, le=100_000)
    die_after_fills: int | None = Field(None, ge=0)
    clear: bool = False  # first reset every override (a revived, normal venue)


class Service:
    """The live simulator and how to rebuild it from its file after a failed write."""

    def __init__(self, build: Callable[[], Simulator]) -> None:
        self._build = build
        self.sim = build()

    def reload(self) -> None:
        """Drop the in-memory state and load the file again."""
        self.sim = self._build()


def create_app(service: Service, *, api_key: str, admin_key: str) -> FastAPI:
    """The FastAPI app of one venue."""
    app = FastAPI(title="Local trading venue", docs_url=None, redoc_url=None, openapi_url=None)

    def private(x_api_key: Annotated[str, Header()] = "") -> None:
        if not hmac.compare_digest(x_api_key.encode(), api_key.encode()):
            raise AuthenticationError("invalid API key")

    def admin(x_admin_key: Annotated[str, Header()] = "") -> None:
        if not hmac.compare_digest(x_admin_key.encode(), admin_key.encode()):
            raise AuthenticationError("invalid admin key")

    @app.exception_handler(BaseError)
    async def venue_error(request: Request, exc: BaseError) -> JSONResponse:
        for cls, status, code in ERRORS:
            if isinstance(exc, cls):
                return error(status, code, str(exc)[:200], {"Retry-After": "1"} if status == 503 else None)
        return error(400, "EXCHANGE_ERROR", str(exc)[:200])

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = ", ".join(".".join(map(str, e.get("loc", ()))) for e in exc.errors()[:3])
        return error(400, "BAD_REQUEST", f"invalid request: {where}"[:200])

    @app.middleware("http")
    async def venue_conditions(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                               ) -> Response:
        if not request.url.path.startswith("/api/"):
            return await call_next(request)
        sim = service.sim
        with sim.lock:
            delay = sim.faults.latency_ms() / 2000  # half on the way in, half on the way out
        await asyncio.sleep(delay)
        reply = await answer(request, call_next)
        await asyncio.sleep(delay)
        return reply

    async def answer(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        sim = service.sim
        now = now_ms()
        with sim.lock:
            down = sim.faults.outage(now)
            retry = -(-(sim.faults.outage_end(now) - now) // 1000)
        if down is not None:
            code = "MAINTENANCE" if down == "maintenance" else "UNAVAILABLE"
            return error(503, code, f"venue {down}", {"Retry-After": str(max(1, retry))})
        presented = request.headers.get("x-api-key", "")
        key = "key" if hmac.compare_digest(presented.encode(), api_key.encode()) else \
            f"ip:{request.client.host if request.client else '-'}"
        with sim.lock:
            wait = sim.faults.rate_limited(key, now)
        if wait is not None:
            return error(429, "RATE_LIMIT", "too many requests", {"Retry-After": str(-(-wait // 1000))},
                         retry_after_ms=wait)
        return await call_next(request)

    def run(call: Callable[[Simulator], Any]) -> Any:
        sim = service.sim
        try:
            return call(sim)
        except PersistFailed:
            service.reload()
            return error(500, "INTERNAL", "internal error")

    @app.get("/api/v1/time")
    def server_time() -> dict[str, int]:
        """The venue's clock (ms)."""
        return {"serverTime": now_ms()}

    @app.get("/api/v1/markets")
    def markets() -> dict[str, Any]:
        """The listed symbols, their minor-unit decimals, and the fee schedule."""
        p = service.sim.profile
        return {"venue": p.name, "fees": {"maker_ppm": p.maker_ppm, "taker_ppm": p.taker_ppm},
                "markets": [{"symbol": s, "base": MARKETS[s].base, "quote": MARKETS[s].quote,
                             "base_decimals": MARKETS[s].base_decimals,
                             "quote_decimals": MARKETS[s].quote_decimals} for s in p.symbols]}

    @app.get("/api/v1/orderbook")
    def orderbook(symbol: Symbol, limit: Annotated[int | None, Query(ge=1, le=500)] = None) -> Any:
        """The book (bids best first, asks best first)."""
        return run(lambda sim: book_json(sim.order_book(symbol, now_ms(), limit)))

    @app.get("/api/v1/ticker")
    def ticker(symbol: Symbol) -> Any:
        """Best bid, best ask, last."""
        return run(lambda sim: ticker_json(sim.ticker(symbol, now_ms())))

    @app.post("/api/v1/orders", dependencies=[Depends(private)])
    def create_order(body: OrderRequest) -> Any:
        """Place an order (a repeated clientOrderId returns the order it made)."""
        return run(lambda sim: order_json(sim.create_order(
            body.symbol, OrderType(body.type), Side(body.side), int(body.amount),
            None if body.price is None else int(body.price), now_ms(), body.clientOrderId, body.timeInForce)))

    @app.get("/api/v1/orders", dependencies=[Depends(private)])
    def order_by_client_id(client_order_id: ClientOrderIdQuery) -> Any:
        """An order by its clientOrderId."""
        return run(lambda sim: order_json(sim.fetch_order(None, now_ms(), client_order_id)))

    @app.get("/api/v1/orders/{order_id}", dependencies=[Depends(private)])
    def get_order(order_id: str) -> Any:
        """An order by id."""
        return run(lambda sim: order_json(sim.fetch_order(order_id, now_ms())))

    @app.delete("/api/v1/orders/{order_id}", dependencies=[Depends(private)])
    def cancel_order(order_id: str) -> Any:
        """Cancel an open order."""
        return run(lambda sim: order_json(sim.cancel_order(order_id, now_ms())))

    @app.get("/api/v1/balance", dependencies=[Depends(private)])
    def balance() -> Any:
        """Our balances."""
        return run(lambda sim: balance_json(sim.balance(now_ms())))

    @app.post("/admin/fund", dependencies=[Depends(admin)])
    def fund(body: FundRequest) -> Any:
        """Credit (or debit from free) our account."""
        return run(lambda sim: balance_json(sim.fund(body.currency, int(body.amount))))

    @app.get("/admin/faults", dependencies=[Depends(admin)])
    def get_faults() -> dict[str, Any]:
        """The admin's overrides."""
        return service.sim.faults.state.to_dict()

    @app.patch("/admin/faults", dependencies=[Depends(admin)])
    def patch_faults(body: FaultPatch) -> Any:
        """Force an outage, stale or wrong prices, a latency or rate limit, a death after N fills;
        revive (``clear``)."""
        now = now_ms()
        sim = service.sim
        with sim.lock:
            state = FaultState() if body.clear else FaultState(**sim.faults.state.to_dict())
            for name, value in body.model_dump(exclude_unset=True, exclude={"clear"}).items():
                if name.endswith("_for_ms"):
                    setattr(state, name.replace("_for_ms", "_until_ms"), now + value)
                else:
                    setattr(state, name, value)
            failed = run(lambda s: s.set_state(state))
            return failed if isinstance(failed, JSONResponse) else state.to_dict()

    @app.get("/admin/fills", dependencies=[Depends(admin)])
    def fills() -> list[dict[str, Any]]:
        """Every fill of ours, oldest first."""
        with service.sim.lock:
            records = list(service.sim.engine.fills)
        return [{"seq": r.seq, "order_id": r.fill.order_id, "symbol": r.fill.symbol,
                 "side": r.fill.side.value, "amount": str(r.fill.amount), "price": str(r.fill.price),
                 "cost": str(r.fill.cost), "fee": str(r.fill.fee), "timestamp": r.fill.timestamp,
                 "taker": r.taker} for r in records]

    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness."""
        return {"status": "ok", "venue": service.sim.profile.name}

    return app


class PersistFailed(Exception):  # noqa: N818
    """Writing a change to the venue's file failed: the in-memory state is dropped and reloaded."""
