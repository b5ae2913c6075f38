"""Strict reading of a venue's JSON answers into trading types.

Anything unexpected (a missing field, a float, a negative or absurd amount, an unsorted or crossed
book, an order that is not the one asked for, totals that do not add up) raises
:class:`BadResponse`, a CCXT :class:`~keeper.trading.types.ExchangeError`: a hostile or broken venue
can make a call fail, never crash the caller or hand it a wrong number.
"""

from __future__ import annotations

import re
from typing import Any

from keeper.trading.types import (
    BadResponse,
    Balance,
    FeeSchedule,
    Level,
    Order,
    OrderBook,
    OrderFee,
    OrderStatus,
    OrderType,
    Side,
    Ticker,
)

MAX_UNITS = 10**36          # no real amount or price comes near it
MAX_TIMESTAMP = 2**53       # ms
MAX_LEVELS = 5_000
ORDER_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
SYMBOL = re.compile(r"^[A-Z0-9]{2,10}/[A-Z0-9]{2,10}$")
CURRENCY = re.compile(r"^[A-Z0-9]{2,10}$")
_DIGITS = re.compile(r"^(0|[1-9][0-9]{0,36})$")


def _fail(what: str) -> BadResponse:
    return BadResponse(f"malformed venue answer: {what}")


def obj(value: object, what: str) -> dict[str, Any]:
    """``value`` as a JSON object."""
    if not isinstance(value, dict):
        raise _fail(f"{what} is not an object")
    return value


def units(value: object, what: str, *, positive: bool = False) -> int:
    """A decimal-string integer of minor units (0 allowed unless ``positive``)."""
    if not isinstance(value, str) or not _DIGITS.fullmatch(value):
        raise _fail(f"{what} is not a decimal integer string")
    number = int(value)
    if number > MAX_UNITS or (positive and number == 0):
        raise _fail(f"{what} is out of range")
    return number


def opt_units(value: object, what: str) -> int | None:
    """Positive units or null."""
    return None if value is None else units(value, what, positive=True)


def timestamp(value: object, what: str = "timestamp") -> int:
    """An integer millisecond time."""
    if type(value) is not int or not 0 <= value < MAX_TIMESTAMP:
        raise _fail(f"{what} is not a millisecond time")
    return value


def text(value: object, what: str, pattern: re.Pattern[str]) -> str:
    """A string matching ``pattern``."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _fail(f"{what} is not a valid string")
    return value


def _levels(value: object, what: str, descending: bool, limit: int | None) -> tuple[Level, ...]:
    if not isinstance(value, list) or len(value) > min(MAX_LEVELS, limit or MAX_LEVELS):
        raise _fail(f"{what} is not a list of at most the levels asked for")
    out: list[Level] = []
    for row in value:
        if not isinstance(row, list) or len(row) != 2:
            raise _fail(f"{what} level is not [price, amount]")
        level = Level(units(row[0], f"{what} price", positive=True),
                      units(row[1], f"{what} amount", positive=True))
        if out and (level.price >= out[-1].price if descending else level.price <= out[-1].price):
            raise _fail(f"{what} are not sorted best first")
        out.append(level)
    return tuple(out)


def order_book(data: object, symbol: str, venue: str, limit: int | None) -> OrderBook:
    """``GET /api/v1/orderbook``."""
    d = obj(data, "order book")
    if d.get("symbol") != symbol:
        raise _fail("order book of another symbol")
    bids = _levels(d.get("bids"), "bids", True, limit)
    asks = _levels(d.get("asks"), "asks", False, limit)
    if bids and asks and bids[0].price >= asks[0].price:
        raise _fail("crossed book")
    return OrderBook(symbol, bids, asks, timestamp(d.get("timestamp")), venue)


def ticker(data: object, symbol: str) -> Ticker:
    """``GET /api/v1/ticker``."""
    d = obj(data, "ticker")
    if d.get("symbol") != symbol:
        raise _fail("ticker of another symbol")
    bid, ask = opt_units(d.get("bid"), "bid"), opt_units(d.get("ask"), "ask")
    if bid is not None and ask is not None and bid >= ask:
        raise _fail("crossed ticker")
    return Ticker(symbol, bid, ask, opt_units(d.get("last"), "last"), timestamp(d.get("timestamp")))


def order(data: object, *, expect: dict[str, object] | None = None) -> Order:
    """An order; ``expect`` holds fields that must equal what was asked for (id, symbol, ...)."""
    d = obj(data, "order")
    try:
        type_, side, status = OrderType(d.get("type")), Side(d.get("side")), OrderStatus(d.get("status"))
    except ValueError:
        raise _fail("order type, side or status") from None
    fee = obj(d.get("fee"), "order fee")
    cid = d.get("clientOrderId")
    out = Order(
        id=text(d.get("id"), "order id", ORDER_ID),
        client_order_id=None if cid is None else text(cid, "clientOrderId", ORDER_ID),
        symbol=text(d.get("symbol"), "symbol", SYMBOL),
        type=type_, side=side, price=opt_units(d.get("price"), "price"),
        amount=units(d.get("amount"), "amount", positive=True), filled=units(d.get("filled"), "filled"),
        remaining=units(d.get("remaining"), "remaining"), cost=units(d.get("cost"), "cost"),
        fee=OrderFee(units(fee.get("cost"), "fee cost"), text(fee.get("currency"), "fee currency", CURRENCY)),
        status=status, timestamp=timestamp(d.get("timestamp")),
        average=opt_units(d.get("average"), "average"))
    if out.filled + out.remaining != out.amount:
        raise _fail("filled + remaining != amount")
    if out.type is OrderType.LIMIT and out.price is None:
        raise _fail("limit order without a price")
    if out.status is OrderStatus.OPEN and out.remaining == 0:
        raise _fail("open order with nothing remaining")
    if out.filled == 0 and (out.cost or out.average is not None):
        raise _fail("cost without a fill")
    for name, wanted in (expect or {}).items():
        if getattr(out, name) != wanted:
            raise _fail(f"order {name} is not the one asked for")
    return out


def balance(data: object) -> Balance:
    """``GET /api/v1/balance``: free + used == total for every currency."""
    d = obj(data, "balance")
    parts = {}
    for part in ("free", "used", "total"):
        values = obj(d.get(part), part)
        if len(values) > 1_000:
            raise _fail("too many currencies")
        parts[part] = {text(c, "currency", CURRENCY): units(v, f"{part} {c}") for c, v in values.items()}
    if not parts["free"].keys() == parts["used"].keys() == parts["total"].keys():
        raise _fail("balance parts name different currencies")
    if any(parts["free"][c] + parts["used"][c] != parts["total"][c] for c in parts["total"]):
        raise _fail("free + used != total")
    return Balance(free=parts["free"], used=parts["used"], total=parts["total"])


def fees(data: object) -> FeeSchedule:
    """``GET /api/v1/markets``: the fee schedule (ppm, at most 10%)."""
    f = obj(obj(data, "markets").get("fees"), "fees")
    maker, taker = f.get("maker_ppm"), f.get("taker_ppm")
    if not all(type(v) is int and 0 <= v <= 100_000 for v in (maker, taker)):
        raise _fail("fees")
    return FeeSchedule(maker, taker)
