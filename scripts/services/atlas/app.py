"""The local ATLAS HTTP service (FastAPI): the bank's core banking as the platform sees it.

Auth: ``Authorization: Bearer <key>``. The platform's key may debit/credit customers for
trades, move issuer reserves, post GL batches and read; the ops key (the bank's own staff, demos
and tests) opens customers, books incoming wires and sets failure injection. Keys are compared
in constant time and never logged. Errors: ``{"error": {"code", "message"}}``.

Failure injection (:class:`~keeper.integrations.corebanking.wire.Faults`): latency, a seeded
share of 500s (before the handler: nothing applied; or after it: applied, answer lost), and a
maintenance window answering 503 with ``Retry-After``. ``/atlas/health`` and ``/atlas/admin/*``
are exempt so a test can always turn them off.
"""

from __future__ import annotations

import asyncio
import hmac
import random
import threading
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from keeper.integrations.corebanking.wire import (
    ID_PATTERN,
    POSTING_ID_PATTERN,
    CustomerIn,
    Faults,
    GLBatch,
    ReserveIn,
    ReverseIn,
    TradeIn,
    WireIn,
)
from scripts.services.atlas import ops, reversals
from scripts.services.atlas.store import Refused, Store, trial_balance

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
Asset = Annotated[str, Path(pattern=r"^(USDC|USDT)$")]
CustomerId = Annotated[str, Path(pattern=ID_PATTERN)]
IdemKey = Annotated[str, Header(alias="Idempotency-Key", pattern=UUID_PATTERN)]
EXEMPT = ("/atlas/health", "/atlas/admin/")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


class FaultInjector:
    """The current :class:`Faults` and its seeded PRNG (one draw per non-exempt call)."""

    def __init__(self, faults: Faults) -> None:
        self.lock = threading.Lock()
        self.set(faults)

    def set(self, faults: Faults) -> None:
        """Replace the faults and reseed."""
        with self.lock:
            self.faults, self.rng = faults, random.Random(faults.seed)

    def draw(self) -> bool:
        """Whether this call fails with a 500."""
        with self.lock:
            return self.faults.error_rate > 0 and self.rng.random() < self.faults.error_rate


def create_app(store: Store, *, api_key: str, ops_key: str, faults: Faults | None = None) -> FastAPI:
    """The ATLAS app over ``store``; ``api_key`` for the platform, ``ops_key`` for the bank's
    staff (both required, distinct)."""
    if not api_key or not ops_key or api_key == ops_key:
        raise ValueError("ATLAS needs two distinct, non-empty keys (platform and ops)")
    app = FastAPI(title="ATLAS (local core banking)", version="0.1.0",
                  description="Amounts are decimal strings of integer US cents.")
    injector = FaultInjector(faults or Faults())
    app.state.injector = injector

    def _key(authorization: str) -> str:
        scheme, _, token = authorization.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""

    def platform(authorization: Annotated[str, Header()] = "") -> None:
        if not hmac.compare_digest(_key(authorization).encode(), api_key.encode()):
            raise HTTPException(401, "missing or invalid API key")

    def staff(authorization: Annotated[str, Header()] = "") -> None:
        if not hmac.compare_digest(_key(authorization).encode(), ops_key.encode()):
            raise HTTPException(401, "missing or invalid API key")

    @app.exception_handler(Refused)
    async def _refused(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Refused)
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = {401: "unauthorized", 404: "not_found"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        msg = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return _error(422, "validation_error", msg[:2000])

    @app.middleware("http")
    async def _faults(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path.startswith(EXEMPT):
            return await call_next(request)
        f = injector.faults
        if f.latency_ms:
            await asyncio.sleep(f.latency_ms / 1000)
        if f.maintenance:
            return _error(503, "maintenance", "ATLAS is in its maintenance window",
                          {"Retry-After": "60"})
        fail = injector.draw()
        if fail and f.error_when == "before":
            return _error(500, "internal_error", "injected failure")
        response = await call_next(request)
        if fail:
            return _error(500, "internal_error", "injected failure")
        return response

    def _answer(result: tuple[int, Any], response: Response) -> Any:
        response.status_code = result[0]
        return result[1]

    @app.get("/atlas/health")
    def health() -> dict[str, str]:
        """Liveness."""
        return {"status": "ok"}

    @app.post("/atlas/customers", dependencies=[Depends(staff)])
    def create_customer(body: CustomerIn, response: Response) -> dict[str, Any]:
        """Open a customer with a USD account (idempotent on ``customer_id``)."""
        return _answer(ops.create_customer(store, body), response)

    @app.get("/atlas/customers/{customer_id}", dependencies=[Depends(platform)])
    def customer(customer_id: CustomerId) -> dict[str, Any]:
        """A customer and its balance."""
        return ops.customer(store, customer_id)

    @app.get("/atlas/customers/{customer_id}/history", dependencies=[Depends(platform)])
    def history(customer_id: CustomerId) -> list[dict[str, Any]]:
        """The customer's movements, oldest first."""
        return ops.history(store, customer_id)

    @app.post("/atlas/wires/in", dependencies=[Depends(staff)])
    def wire_in(body: WireIn, key: IdemKey, response: Response) -> dict[str, Any]:
        """Book an incoming wire (ops / demo); ``earmark: buy`` notifies the platform."""
        return _answer(ops.wire_in(store, key.lower(), body), response)

    @app.post("/atlas/debits", dependencies=[Depends(platform)])
    def debit(body: TradeIn, key: IdemKey, response: Response) -> dict[str, Any]:
        """Debit a customer's fiat for a buy (idempotent on ``Idempotency-Key``)."""
        return _answer(ops.trade(store, key.lower(), "buy", body), response)

    @app.post("/atlas/debits/{posting_id}/reverse", dependencies=[Depends(platform)])
    def reverse_debit(posting_id: Annotated[str, Path(pattern=POSTING_ID_PATTERN)], body: ReverseIn,
                      key: IdemKey, response: Response) -> dict[str, Any]:
        """Reverse a buy's debit and fee exactly, once (idempotent on ``Idempotency-Key``;
        404 ``unknown_debit``, 409 ``already_reversed``)."""
        return _answer(reversals.reverse_debit(store, key.lower(), int(posting_id), body), response)

    @app.post("/atlas/credits", dependencies=[Depends(platform)])
    def credit(body: TradeIn, key: IdemKey, response: Response) -> dict[str, Any]:
        """Credit a customer's fiat for a sell (idempotent on ``Idempotency-Key``)."""
        return _answer(ops.trade(store, key.lower(), "sell", body), response)

    @app.post("/atlas/reserves/{asset}/{direction}", dependencies=[Depends(platform)])
    def move_reserves(asset: Asset, direction: Annotated[str, Path(pattern=r"^(fund|release)$")],
                      body: ReserveIn, key: IdemKey, response: Response) -> dict[str, Any]:
        """Fund or release fiat held for the issuer of ``asset``."""
        return _answer(ops.move_reserves(store, key.lower(), asset, direction, body), response)

    @app.get("/atlas/reserves/{asset}", dependencies=[Depends(platform)])
    def reserves(asset: Asset) -> dict[str, str]:
        """Fiat held for the issuer of ``asset`` (cents)."""
        return ops.reserves(store, asset)

    @app.get("/atlas/balances", dependencies=[Depends(platform)])
    def balances() -> dict[str, str]:
        """Every customer's fiat balance (cents)."""
        return ops.balances(store)

    @app.post("/atlas/gl/post-batch", dependencies=[Depends(platform)])
    def gl_post_batch(batch: GLBatch, response: Response) -> dict[str, Any]:
        """Post an EOD GL batch (spec 004 §8.2), idempotent on ``batch_id``."""
        return _answer(ops.post_gl_batch(store, batch), response)

    @app.get("/atlas/notifications/{transaction_id}", dependencies=[Depends(staff)])
    def notification(transaction_id: CustomerId) -> dict[str, Any]:
        """A deposit notification's delivery state and the platform's answer."""
        return ops.notification(store, transaction_id)

    @app.post("/atlas/notifications/{transaction_id}/retry", dependencies=[Depends(staff)])
    def retry_notification(transaction_id: CustomerId) -> dict[str, Any]:
        """Send a failed deposit notification again."""
        return ops.retry_notification(store, transaction_id)

    @app.get("/atlas/ledger/trial-balance", dependencies=[Depends(staff)])
    def trial() -> dict[str, Any]:
        """Debits and credits per currency; any posting that does not net to zero."""
        with store.read() as conn:
            return trial_balance(conn)

    @app.get("/atlas/admin/faults", dependencies=[Depends(staff)])
    def get_faults() -> dict[str, Any]:
        """The failure injection in force."""
        return injector.faults.model_dump()

    @app.put("/atlas/admin/faults", dependencies=[Depends(staff)])
    def set_faults(body: Faults) -> dict[str, Any]:
        """Replace the failure injection (and reseed its PRNG)."""
        injector.set(body)
        return body.model_dump()

    return app
