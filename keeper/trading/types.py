"""Trading's shared vocabulary: markets, order books, orders, fills, the venue interface, and
CCXT's error classes.

The venue interface is shaped like CCXT's unified API (``fetch_order_book``, ``fetch_ticker``,
``create_order``, ``cancel_order``, ``fetch_order``, ``fetch_balance``; an order has ``id, status,
filled, remaining, cost, fee``) so a bank can plug a real exchange in through CCXT with an adapter
that converts at the boundary. Unlike CCXT, every quantity here is an integer:

* ``amount`` (and ``filled``, ``remaining``) in the base asset's minor units (satoshi, wei);
* ``price`` in the quote asset's minor units per one *whole* base unit (US cents per 1 BTC);
* ``cost`` and ``fee`` in the quote asset's minor units.

The rounding of a notional (:meth:`Market.notional`, floor) and of a fee (:func:`fee_for`,
ceiling: a venue never undercharges) has its home here; every trading package uses these two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable


class Side(StrEnum):
    """Which way an order trades the base asset."""

    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    """CCXT's two unified order types."""

    MARKET = "market"
    LIMIT = "limit"


class OrderStatus(StrEnum):
    """CCXT's unified order statuses."""

    OPEN = "open"
    CLOSED = "closed"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Market:
    """A trading pair: ``base``/``quote`` and the minor-unit decimals of each."""

    symbol: str
    base: str
    quote: str
    base_decimals: int
    quote_decimals: int

    def notional(self, amount: int, price: int) -> int:
        """Quote minor units for ``amount`` base minor units at ``price`` (floor)."""
        return amount * price // 10**self.base_decimals


MARKETS: dict[str, Market] = {
    "BTC/USD": Market("BTC/USD", "BTC", "USD", 8, 2),
    "ETH/USD": Market("ETH/USD", "ETH", "USD", 18, 2),
    "USDC/USD": Market("USDC/USD", "USDC", "USD", 6, 2),
    "USDT/USD": Market("USDT/USD", "USDT", "USD", 6, 2),
}


def fee_for(cost: int, rate_ppm: int) -> int:
    """The fee on ``cost`` at ``rate_ppm`` parts per million (ceiling: never undercharged)."""
    return -(-cost * rate_ppm // 1_000_000)


@dataclass(frozen=True)
class Level:
    """One price level of a book: ``amount`` base minor units offered at ``price``."""

    price: int
    amount: int


@dataclass(frozen=True)
class OrderBook:
    """CCXT's order book: bids best (highest) first, asks best (lowest) first, ``timestamp`` in ms."""

    symbol: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    timestamp: int
    venue: str = ""


@dataclass(frozen=True)
class Ticker:
    """CCXT's ticker, reduced to what routing and analytics use."""

    symbol: str
    bid: int | None
    ask: int | None
    last: int | None
    timestamp: int


@dataclass(frozen=True)
class FeeSchedule:
    """A venue's maker and taker fees, in parts per million of the cost."""

    maker_ppm: int
    taker_ppm: int


@dataclass(frozen=True)
class OrderFee:
    """CCXT's order fee: ``cost`` in minor units of ``currency``."""

    cost: int
    currency: str


@dataclass(frozen=True)
class Order:
    """CCXT's unified order (integer amounts)."""

    id: str
    client_order_id: str | None
    symbol: str
    type: OrderType
    side: Side
    price: int | None
    amount: int
    filled: int
    remaining: int
    cost: int
    fee: OrderFee
    status: OrderStatus
    timestamp: int
    average: int | None = None


@dataclass(frozen=True)
class Balance:
    """CCXT's balance: per currency, ``free``, ``used`` (in open orders) and ``total`` minor units."""

    free: dict[str, int] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Fill:
    """One execution on one venue, as routing records it and analytics and tax lots read it."""

    venue: str
    order_id: str
    symbol: str
    side: Side
    amount: int
    price: int
    cost: int
    fee: int
    timestamp: int


@dataclass(frozen=True)
class ParentOrder:
    """A client's order to the desk, which routing splits into child orders across venues.

    ``limit_price`` (quote minor units per whole base unit) bounds every child; ``None`` is a
    market order. ``jurisdiction`` (ISO country code) and ``client_type`` (e.g. ``retail``,
    ``professional``, ``institutional``) are what the jurisdiction rules read."""

    id: str
    client_id: str
    symbol: str
    side: Side
    amount: int
    limit_price: int | None
    jurisdiction: str
    client_type: str
    created_at: int  # ms


@dataclass(frozen=True)
class ChildIntent:
    """A child order routing wants to send, shown to the execution policy *before* it is sent."""

    parent_id: str
    client_id: str
    jurisdiction: str
    client_type: str
    venue: str
    symbol: str
    side: Side
    type: OrderType
    amount: int
    price: int | None
    notional: int  # quote minor units, estimated from the book


@dataclass(frozen=True)
class PolicyDecision:
    """The execution policy's answer: ``allowed``, and if not, which ``rule`` said no and why."""

    allowed: bool
    rule: str = ""
    reason: str = ""


@runtime_checkable
class ExecutionPolicy(Protocol):
    """Checks a child order before it is sent (the jurisdiction engine implements it)."""

    def check(self, intent: ChildIntent) -> PolicyDecision:
        """Whether ``intent`` may be sent."""
        ...


@runtime_checkable
class PreTradePolicy(ExecutionPolicy, Protocol):
    """An execution policy that also judges a whole parent order before it is routed."""

    def check_order(self, parent: ParentOrder,
                    estimated_notional: int | None = None) -> PolicyDecision:
        """Whether ``parent`` may be routed at all (``estimated_notional`` in quote minor units
        for a market order, which has no limit price to value it by)."""
        ...


@runtime_checkable
class Venue(Protocol):
    """A trading venue with CCXT's unified methods (integer amounts, see the module docstring)."""

    id: str

    def fees(self) -> FeeSchedule:
        """The venue's maker/taker fee schedule."""
        ...

    def fetch_order_book(self, symbol: str, limit: int | None = None) -> OrderBook:
        """The current book of ``symbol`` (at most ``limit`` levels a side)."""
        ...

    def fetch_ticker(self, symbol: str) -> Ticker:
        """The current ticker of ``symbol``."""
        ...

    def create_order(self, symbol: str, type: OrderType, side: Side, amount: int,
                     price: int | None = None, params: dict[str, object] | None = None) -> Order:
        """Place an order; ``params["clientOrderId"]`` makes a retry return the same order."""
        ...

    def cancel_order(self, id: str, symbol: str | None = None) -> Order:
        """Cancel an open order and return it."""
        ...

    def fetch_order(self, id: str, symbol: str | None = None) -> Order:
        """An order by the venue's id."""
        ...

    def fetch_order_by_client_id(self, client_order_id: str, symbol: str | None = None) -> Order:
        """An order by our ``clientOrderId``: how a create whose answer was lost is settled."""
        ...

    def fetch_balance(self) -> Balance:
        """Our account's balances on the venue."""
        ...


# CCXT's error classes (ccxt/base/errors.py), same names and hierarchy, so code written against
# these catches the same situations a CCXT exchange raises (hence names without "Error").
# ruff: noqa: N818
class BaseError(Exception):
    """Root of every venue error."""


class ExchangeError(BaseError):
    """The venue understood the request and refused it."""


class AuthenticationError(ExchangeError):
    """Bad or missing credentials."""


class PermissionDenied(AuthenticationError):
    """The credentials may not do this."""


class AccountSuspended(AuthenticationError):
    """The account is suspended."""


class BadRequest(ExchangeError):
    """The request is malformed."""


class BadSymbol(BadRequest):
    """The venue does not list the symbol."""


class BadResponse(ExchangeError):
    """The venue's answer is malformed or inconsistent."""


class InsufficientFunds(ExchangeError):
    """Our balance on the venue does not cover the order."""


class InvalidOrder(ExchangeError):
    """The order is invalid (size, price, type)."""


class OrderNotFound(InvalidOrder):
    """No such order."""


class NetworkError(BaseError):
    """The venue could not be reached or did not answer properly; the request may be retried."""


class DDoSProtection(NetworkError):
    """The venue is shedding load."""


class RateLimitExceeded(DDoSProtection):
    """Too many requests: back off ``retry_after_s`` seconds (None when the venue did not say)."""

    def __init__(self, message: str = "", retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ExchangeNotAvailable(NetworkError):
    """The venue is down."""


class OnMaintenance(ExchangeNotAvailable):
    """The venue is down for maintenance."""


class InvalidNonce(NetworkError):
    """The request's nonce was refused."""


class RequestTimeout(NetworkError):
    """No answer in time: the request's outcome is unknown (check before re-sending)."""
