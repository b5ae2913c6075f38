"""Any JSON a venue may answer is either read into a consistent value or refused with
BadResponse (an ExchangeError): never another exception that would escape the caller's
``except BaseError``. Valid answers with fields replaced by arbitrary JSON reach every check."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from keeper.trading.types import OrderStatus
from keeper.trading.venues import wire

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**40, 10**40), st.floats(allow_nan=True),
                    st.text(max_size=12),
                    st.sampled_from(["1", "0", "100", "BTC/USD", "USD", "buy", "limit", "open", "closed",
                                     "market", "sell", "-1", "1e3", "01", "9" * 40]))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=10)
VALID = [
    {"symbol": "BTC/USD", "bids": [["100", "5"], ["99", "5"]], "asks": [["101", "5"]], "timestamp": 1},
    {"symbol": "BTC/USD", "bid": "100", "ask": "101", "last": "100", "timestamp": 1},
    {"id": "o-1", "clientOrderId": "c-1", "symbol": "BTC/USD", "type": "limit", "side": "buy", "price": "101",
     "amount": "10", "filled": "4", "remaining": "6", "cost": "404", "fee": {"cost": "1", "currency": "USD"},
     "status": "open", "timestamp": 1, "average": "101"},
    {"free": {"USD": "5", "BTC": "0"}, "used": {"USD": "1", "BTC": "0"}, "total": {"USD": "6", "BTC": "0"}},
    {"fees": {"maker_ppm": 100, "taker_ppm": 500}},
]


@st.composite
def mutated(draw: st.DrawFn) -> object:
    doc = dict(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(doc)))
        if isinstance(doc[key], dict) and draw(st.booleans()):
            inner = dict(doc[key])
            inner[draw(st.sampled_from(sorted(inner) or ["x"]))] = draw(JSON)
            doc[key] = inner
        elif isinstance(doc[key], list) and doc[key] and draw(st.booleans()):
            rows = list(doc[key])
            rows[draw(st.integers(0, len(rows) - 1))] = draw(JSON)
            doc[key] = rows
        else:
            doc[key] = draw(JSON)
    return doc


def read_all(data: object) -> None:
    for parse in (lambda d: wire.order_book(d, "BTC/USD", "v", 3), lambda d: wire.ticker(d, "BTC/USD"),
                  lambda d: wire.order(d), wire.balance, wire.fees):
        try:
            value = parse(data)
        except wire.BadResponse:
            continue
        if hasattr(value, "filled"):  # an order that parsed is consistent
            assert value.filled + value.remaining == value.amount
            assert value.status is not OrderStatus.OPEN or value.remaining > 0
        if hasattr(value, "bids") and value.bids and value.asks:
            assert value.bids[0].price < value.asks[0].price


def test_the_valid_documents_parse() -> None:
    assert wire.order_book(VALID[0], "BTC/USD", "v", 3).asks[0].price == 101
    assert wire.ticker(VALID[1], "BTC/USD").ask == 101
    assert wire.order(VALID[2]).remaining == 6
    assert wire.balance(VALID[3]).total["USD"] == 6
    assert wire.fees(VALID[4]).taker_ppm == 500


@settings(max_examples=100, deadline=None)
@given(st.one_of(JSON, mutated()))
def test_any_json_is_read_or_refused_with_bad_response(data: object) -> None:
    read_all(data)
