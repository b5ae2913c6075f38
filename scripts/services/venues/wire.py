"""The venue service's JSON: integers travel as decimal strings (wei amounts exceed what a JSON
number carries exactly in most clients), times as integer milliseconds."""

from __future__ import annotations

from typing import Any

from keeper.trading.types import Balance, Level, Order, OrderBook, Ticker


def _opt(value: int | None) -> str | None:
    return None if value is None else str(value)


def levels_json(levels: tuple[Level, ...]) -> list[list[str]]:
    """Levels as ``[[price, amount], ...]``."""
    return [[str(lv.price), str(lv.amount)] for lv in levels]


def book_json(book: OrderBook) -> dict[str, Any]:
    """An order book."""
    return {"symbol": book.symbol, "bids": levels_json(book.bids), "asks": levels_json(book.asks),
            "timestamp": book.timestamp, "venue": book.venue}


def ticker_json(ticker: Ticker) -> dict[str, Any]:
    """A ticker."""
    return {"symbol": ticker.symbol, "bid": _opt(ticker.bid), "ask": _opt(ticker.ask),
            "last": _opt(ticker.last), "timestamp": ticker.timestamp}


def order_json(order: Order) -> dict[str, Any]:
    """An order."""
    return {"id": order.id, "clientOrderId": order.client_order_id, "symbol": order.symbol,
            "type": order.type.value, "side": order.side.value, "price": _opt(order.price),
            "amount": str(order.amount), "filled": str(order.filled), "remaining": str(order.remaining),
            "cost": str(order.cost), "fee": {"cost": str(order.fee.cost), "currency": order.fee.currency},
            "status": order.status.value, "timestamp": order.timestamp, "average": _opt(order.average)}


def balance_json(balance: Balance) -> dict[str, Any]:
    """Our balances."""
    parts = {"free": balance.free, "used": balance.used, "total": balance.total}
    return {part: {c: str(v) for c, v in values.items()} for part, values in parts.items()}
