"""The one price-feed interface of the project: what one whole unit of an asset is worth in USD.

Prices are integer US cents per *whole* unit (1 ETH, 1 BTC, 1 USDC), never floats. A price has a
time (``as_of``); a feed refuses a price older than its ``max_age`` (:class:`StalePrice`) so no
report or control ever values money with a stale number. Stablecoins (USDC, USDT) are valued at
face value, 100 cents, by definition (they are redeemable 1:1; a de-peg is a market risk the
bank prices elsewhere, not a reconciliation figure).

Conversion rule (:func:`to_usd_cents`), in integer arithmetic only::

    cents = units * price_cents / 10**decimals   with the magnitude rounded UP to the next cent

Rounding away from zero means a value is never understated: a difference of one wei is worth one
cent, not zero, so a control comparing values with a threshold errs on the side of caution.

:class:`StaticPrices` serves fixed prices from a mapping or a JSON file
(``{"as_of": "2026-11-23T12:00:00Z", "prices": {"ETH": 300000, "BTC": 9000000}}``, cents per
whole unit as JSON integers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from keeper.assets import ASSETS, USDC, USDT, by_symbol

#: assets valued at face value: one whole unit is one US dollar
STABLECOINS: frozenset[str] = frozenset({USDC.symbol, USDT.symbol})
FACE_VALUE_CENTS = 100
DEFAULT_MAX_AGE = timedelta(hours=1)


class PriceError(Exception):
    """No usable price: unknown asset, missing, malformed or stale."""


class StalePrice(PriceError):  # noqa: N818 - reads as what it is
    """The feed's price is older than its allowed age."""


@dataclass(frozen=True, slots=True)
class Price:
    """Price of one whole unit of ``asset`` in integer US cents, observed at ``as_of`` (UTC)."""

    asset: str
    cents: int
    as_of: datetime


class PriceFeed(Protocol):
    """Anything that prices assets: ``price(symbol, now)`` returns a fresh :class:`Price` or
    raises :class:`PriceError` (:class:`StalePrice` when too old)."""

    def price(self, asset: str, now: datetime | None = None) -> Price:
        """The current price of one whole unit of ``asset`` (a custodied symbol)."""
        ...


def to_usd_cents(units: int, decimals: int, price_cents: int) -> int:
    """Value of ``units`` base units (signed) of an asset with ``decimals`` at ``price_cents``
    per whole unit, in cents, the magnitude rounded up to the next cent (never understated)."""
    if type(units) is not int or type(price_cents) is not int or price_cents < 0:
        raise TypeError("units and price_cents are ints (price_cents >= 0)")
    q, r = divmod(abs(units) * price_cents, 10**decimals)
    q += r > 0
    return -q if units < 0 else q


def value_cents(feed: PriceFeed, asset: str, units: int, now: datetime | None = None) -> int:
    """Value in US cents of ``units`` base units of ``asset`` through ``feed`` (see module)."""
    a = by_symbol(asset)
    return to_usd_cents(units, a.decimals, feed.price(a.symbol, now).cents)


def _cents(value: Any, where: str) -> int:
    if type(value) is not int or value < 0:
        raise PriceError(f"{where}: price must be a non-negative integer of cents, got {value!r}")
    return value


class StaticPrices:
    """Fixed prices (cents per whole unit) observed at ``as_of``; stablecoins at face value.

    A price older than ``max_age`` at the time asked raises :class:`StalePrice`.
    """

    def __init__(self, cents: Mapping[str, int], as_of: datetime,
                 max_age: timedelta = DEFAULT_MAX_AGE) -> None:
        if as_of.tzinfo is None:
            raise PriceError("as_of must be timezone-aware")
        self._cents: dict[str, int] = {}
        for symbol, value in cents.items():
            try:
                key = by_symbol(str(symbol)).symbol
            except KeyError as exc:
                raise PriceError(str(exc)) from None
            self._cents[key] = _cents(value, f"price of {key}")
        self.as_of, self.max_age = as_of.astimezone(UTC), max_age

    @classmethod
    def from_file(cls, path: str | Path, max_age: timedelta = DEFAULT_MAX_AGE) -> StaticPrices:
        """Read ``{"as_of": ISO-8601 with zone, "prices": {symbol: cents}}``; refuses anything
        else (floats, strings, negative numbers, unknown symbols, a naive time)."""
        try:
            data = json.loads(Path(path).read_text())
            as_of = datetime.fromisoformat(data["as_of"])
            prices = data["prices"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PriceError(f"price file {path}: {exc}") from None
        if not isinstance(prices, dict):
            raise PriceError(f"price file {path}: prices is not an object")
        return cls(prices, as_of, max_age)

    @classmethod
    def from_settings(cls, settings: Any, max_age: timedelta = DEFAULT_MAX_AGE) -> StaticPrices:
        """Prices from the settings' ``prices_file`` (``STRONGROOM_PRICES_FILE``; default
        ``prices.json`` in the data folder)."""
        return cls.from_file(Path(settings.prices_file), max_age)

    def price(self, asset: str, now: datetime | None = None) -> Price:
        """See :class:`PriceFeed`."""
        symbol = str(asset).upper()
        if symbol not in ASSETS:
            raise PriceError(f"unknown asset {asset!r}")
        now = now or datetime.now(UTC)
        if symbol in STABLECOINS:
            return Price(symbol, FACE_VALUE_CENTS, now)
        if symbol not in self._cents:
            raise PriceError(f"no price for {symbol}")
        if now - self.as_of > self.max_age:
            raise StalePrice(f"price of {symbol} is from {self.as_of.isoformat()}, older than "
                             f"{self.max_age}")
        return Price(symbol, self._cents[symbol], self.as_of)
