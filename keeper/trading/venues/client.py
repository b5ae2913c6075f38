"""``HttpVenue``: the :class:`~keeper.trading.types.Venue` interface over a venue's REST API.

No retries here: whether to retry, wait or re-route is routing's decision, and an order must never
be sent twice blindly. Every failure is one of CCXT's errors:

* a timeout after the request may have reached the venue (the whole call, headers and body,
  has ``timeout_s``) -> :class:`RequestTimeout` (outcome
  unknown: look the order up with :meth:`HttpVenue.fetch_order_by_client_id` before re-sending);
  a connection refused or a connect timeout -> :class:`ExchangeNotAvailable` (nothing was sent);
  a connection broken mid-answer -> :class:`NetworkError`;
* 429 -> :class:`RateLimitExceeded` carrying ``retry_after_s``;
* 503 -> :class:`OnMaintenance` (code ``MAINTENANCE``) or :class:`ExchangeNotAvailable`;
  other 5xx -> :class:`ExchangeNotAvailable`;
* 400 -> :class:`BadSymbol`, :class:`InsufficientFunds`, :class:`InvalidOrder` or
  :class:`BadRequest` by the answer's code; 404 ``ORDER_NOT_FOUND`` -> :class:`OrderNotFound`;
  401 -> :class:`AuthenticationError`, 403 -> :class:`PermissionDenied`;
* anything malformed (also a 2xx whose body is not what was asked for, does not decode, or is
  larger than ``max_body_bytes``) -> :class:`~keeper.trading.types.BadResponse` (an
  ExchangeError).

The API key is sent in ``X-API-KEY`` and never appears in a repr, a message or a log.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from keeper import jsonsafe
from keeper.keys.secrets import Secret
from keeper.trading.types import (
    AuthenticationError,
    BadRequest,
    BadSymbol,
    Balance,
    ExchangeError,
    ExchangeNotAvailable,
    FeeSchedule,
    InsufficientFunds,
    InvalidOrder,
    NetworkError,
    OnMaintenance,
    Order,
    OrderBook,
    OrderNotFound,
    OrderType,
    PermissionDenied,
    RateLimitExceeded,
    RequestTimeout,
    Side,
    Ticker,
)
from keeper.trading.venues import wire
from keeper.trading.venues.deadline import deadline, deadline_transport

CODES: dict[str, type[ExchangeError]] = {
    "BAD_SYMBOL": BadSymbol, "INSUFFICIENT_FUNDS": InsufficientFunds, "INVALID_ORDER": InvalidOrder,
    "ORDER_NOT_FOUND": OrderNotFound, "BAD_REQUEST": BadRequest}
MAX_RETRY_AFTER_S = 300.0


class HttpVenue:
    """One venue over HTTP. ``latency_ms`` is the registry's estimate, updated from observed
    round trips (an exponential average: routing reads :meth:`latency_estimate_ms`)."""

    def __init__(self, venue_id: str, base_url: str, api_key: Secret, *, timeout_s: float = 5.0,
                 latency_ms: float = 50.0, max_body_bytes: int = 2_000_000,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.id = venue_id
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s,
                                  transport=transport or deadline_transport(),
                                  headers={"X-API-KEY": api_key.reveal(), "Accept-Encoding": "identity"},
                                  follow_redirects=False)
        self._max_body = max_body_bytes
        self._timeout_s = timeout_s
        self._latency_ms = float(latency_ms)
        self._fees: FeeSchedule | None = None

    def __repr__(self) -> str:
        return f"HttpVenue({self.id!r}, {str(self._http.base_url)!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def latency_estimate_ms(self) -> float:
        """The expected round trip of the next request (ms)."""
        return self._latency_ms

    # --- the Venue interface ----------------------------------------------------------------

    def fees(self) -> FeeSchedule:
        """The venue's maker/taker fees (``GET /api/v1/markets``, read once)."""
        if self._fees is None:
            self._fees = wire.fees(self._call("GET", "/api/v1/markets"))
        return self._fees

    def fetch_order_book(self, symbol: str, limit: int | None = None) -> OrderBook:
        """``GET /api/v1/orderbook``."""
        params: dict[str, Any] = {"symbol": symbol}
        if limit is not None:
            params["limit"] = limit
        return wire.order_book(self._call("GET", "/api/v1/orderbook", params=params), symbol, self.id, limit)

    def fetch_ticker(self, symbol: str) -> Ticker:
        """``GET /api/v1/ticker``."""
        return wire.ticker(self._call("GET", "/api/v1/ticker", params={"symbol": symbol}), symbol)

    def create_order(self, symbol: str, type: OrderType, side: Side, amount: int,
                     price: int | None = None, params: dict[str, object] | None = None) -> Order:
        """``POST /api/v1/orders``; ``params``: ``clientOrderId`` (a retry returns the same order),
        ``timeInForce`` (``GTC`` or ``IOC``)."""
        params = dict(params or {})
        if not _positive(amount) or (price is not None and not _positive(price)):
            raise InvalidOrder("amount and price are positive integers of minor units")
        try:
            order_type, order_side = OrderType(type), Side(side)
        except ValueError:
            raise InvalidOrder("unknown order type or side") from None
        body: dict[str, Any] = {"symbol": symbol, "type": order_type.value, "side": order_side.value,
                                "amount": str(amount)}
        if price is not None:
            body["price"] = str(price)
        cid = params.pop("clientOrderId", None)
        if cid is not None:
            body["clientOrderId"] = _client_id(cid)
        if "timeInForce" in params:
            body["timeInForce"] = params.pop("timeInForce")
        if params:
            raise InvalidOrder(f"unsupported params: {sorted(params)}")
        expect = {"symbol": symbol, "type": order_type, "side": order_side, "amount": amount,
                  "client_order_id": cid}
        if price is not None:
            expect["price"] = price
        return wire.order(self._call("POST", "/api/v1/orders", body=body), expect=expect)

    def cancel_order(self, id: str, symbol: str | None = None) -> Order:
        """``DELETE /api/v1/orders/{id}``."""
        return wire.order(self._call("DELETE", f"/api/v1/orders/{_order_id(id)}"), expect=_expect(id, symbol))

    def fetch_order(self, id: str, symbol: str | None = None) -> Order:
        """``GET /api/v1/orders/{id}``."""
        return wire.order(self._call("GET", f"/api/v1/orders/{_order_id(id)}"), expect=_expect(id, symbol))

    def fetch_order_by_client_id(self, client_order_id: str, symbol: str | None = None) -> Order:
        """``GET /api/v1/orders?clientOrderId=``: did a create that timed out reach the venue?
        (:class:`OrderNotFound` when it did not)."""
        data = self._call("GET", "/api/v1/orders", params={"clientOrderId": _client_id(client_order_id)})
        expect: dict[str, object] = {"client_order_id": client_order_id}
        if symbol is not None:
            expect["symbol"] = symbol
        return wire.order(data, expect=expect)

    def fetch_balance(self) -> Balance:
        """``GET /api/v1/balance``."""
        return wire.balance(self._call("GET", "/api/v1/balance"))

    # --- transport --------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
              body: dict[str, Any] | None = None) -> object:
        where = f"{self.id} {method} {path}"
        started = time.monotonic()
        try:
            with deadline(started + self._timeout_s), \
                    self._http.stream(method, path, params=params, json=body) as reply:
                raw = bytearray()
                for chunk in reply.iter_bytes():
                    raw += chunk
                    if len(raw) > self._max_body:
                        raise wire.BadResponse(f"{where}: answer larger than {self._max_body} bytes")
        except httpx.ConnectTimeout:
            raise ExchangeNotAvailable(f"{where}: connect timeout") from None
        except httpx.TimeoutException:
            raise RequestTimeout(f"{where}: no answer in time") from None
        except httpx.ConnectError:
            raise ExchangeNotAvailable(f"{where}: cannot connect") from None
        except httpx.TransportError as exc:
            raise NetworkError(f"{where}: {type(exc).__name__}") from None
        except httpx.HTTPError as exc:  # e.g. a body that does not decode as its Content-Encoding says
            raise wire.BadResponse(f"{where}: {type(exc).__name__}") from None
        elapsed_ms = (time.monotonic() - started) * 1000
        self._latency_ms = 0.8 * self._latency_ms + 0.2 * elapsed_ms
        try:
            data = jsonsafe.loads(raw) if raw else None  # depth checked first (keeper.jsonsafe)
        except (ValueError, RecursionError):
            data = None
        if 200 <= reply.status_code < 300:
            if data is None:
                raise wire.BadResponse(f"{where}: HTTP {reply.status_code} without a JSON body")
            return data
        raise _error(where, reply, data, self._http.headers.get("X-API-KEY", ""))


def _error(where: str, reply: httpx.Response, data: object, secret: str) -> Exception:
    """The CCXT error of a non-2xx answer (the venue's message, shortened and printable, with our
    ``secret`` blanked should the venue echo it; never headers)."""
    err = data.get("error") if isinstance(data, dict) else None
    code = err.get("code") if isinstance(err, dict) else None
    message = err.get("message") if isinstance(err, dict) else None
    text = f"{where}: HTTP {reply.status_code}"
    if isinstance(code, str) and code.isidentifier():
        text += f" {code[:40]}"
    if isinstance(message, str):
        if secret:
            message = message.replace(secret, "***")
        text += f": {message[:160]!r}"
    status = reply.status_code
    if status == 429:
        return RateLimitExceeded(text, _retry_after(reply, err))
    if status == 503:
        return OnMaintenance(text) if code == "MAINTENANCE" else ExchangeNotAvailable(text)
    if status >= 500:
        return ExchangeNotAvailable(text)
    if status == 401:
        return AuthenticationError(text)
    if status == 403:
        return PermissionDenied(text)
    if status in (400, 404, 409, 422) and isinstance(code, str) and code in CODES:
        return CODES[code](text)
    if status == 404:
        return BadRequest(text)
    return ExchangeError(text)


def _retry_after(reply: httpx.Response, err: object) -> float | None:
    ms = err.get("retry_after_ms") if isinstance(err, dict) else None
    if type(ms) is int and 0 <= ms:
        return min(ms / 1000, MAX_RETRY_AFTER_S)
    header = reply.headers.get("Retry-After", "")
    if header.isdigit() and len(header) < 7:
        return min(float(header), MAX_RETRY_AFTER_S)
    return None


def _positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= wire.MAX_UNITS


def _order_id(value: object) -> str:
    if not isinstance(value, str) or not wire.ORDER_ID.fullmatch(value):
        raise InvalidOrder("malformed order id")
    return value


def _client_id(value: object) -> str:
    if not isinstance(value, str) or not wire.ORDER_ID.fullmatch(value):
        raise InvalidOrder("clientOrderId must be 1-64 of [A-Za-z0-9._:-]")
    return value


def _expect(order_id: str, symbol: str | None) -> dict[str, object]:
    return {"id": order_id} if symbol is None else {"id": order_id, "symbol": symbol}
