"""The venue service and the keeper's HttpVenue, through a real process: every error mapping,
rate limit then success after Retry-After, an outage window, stale and wrong books, a venue that
dies mid-order, and idempotent clientOrderId and balances across a crash and restart."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from keeper.keys.secrets import Secret
from keeper.trading.types import (
    AuthenticationError,
    BadRequest,
    BadSymbol,
    ExchangeNotAvailable,
    InsufficientFunds,
    InvalidOrder,
    OnMaintenance,
    OrderNotFound,
    OrderStatus,
    OrderType,
    RateLimitExceeded,
    RequestTimeout,
    Side,
    Venue,
)
from keeper.trading.venues import HttpVenue
from scripts.services.venues.__main__ import build
from scripts.services.venues.app import create_app
from scripts.services.venues.profile import VenueProfile
from strongroom_testkit import free_port
from strongroom_testkit.venues import VenueProcess, make_venue

BTC = 10**8
PROFILE = VenueProfile(name="testvenue", maker_ppm=100, taker_ppm=700, latency_ms=1, latency_jitter_ms=0,
                       rate_limit_rps=1_000, levels=5, level_notional=1_000_000,
                       requote_ms=10**12)  # one ladder for the whole module: books comparable across calls
MARKET, BUY = OrderType.MARKET, Side.BUY


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VenueProcess]:
    d = tmp_path_factory.mktemp("venue-http")
    profile = d / "profile.json"
    profile.write_text(PROFILE.to_json())
    proc = make_venue(d, "testvenue", seed=42, profile=profile)
    proc.start()
    proc.fund("USD", 1_000_000_00)
    proc.fund("BTC", 10 * BTC)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def client(venue: VenueProcess) -> Iterator[HttpVenue]:
    yield venue.client(timeout_s=5)
    venue.set_faults(clear=True)


def test_http_venue_is_a_venue_and_trades(client: HttpVenue, venue: VenueProcess) -> None:
    assert isinstance(client, Venue)
    assert client.fees().taker_ppm == 700
    book = client.fetch_order_book("BTC/USD", 3)
    assert len(book.bids) == len(book.asks) == 3 and book.bids[0].price < book.asks[0].price
    before = client.fetch_balance()
    order = client.create_order("BTC/USD", OrderType.MARKET, Side.BUY, BTC // 100, None,
                                {"clientOrderId": "trade-1"})
    assert order.status is OrderStatus.CLOSED and order.filled == BTC // 100
    assert order.price is None and order.cost == BTC // 100 * book.asks[0].price // BTC
    after = client.fetch_balance()
    assert after.total["BTC"] - before.total["BTC"] == BTC // 100
    assert before.total["USD"] - after.total["USD"] == order.cost + order.fee.cost
    assert [f for f in venue.fills() if f["order_id"] == order.id][0]["taker"] is True


def test_error_mapping_through_the_service(client: HttpVenue, venue: VenueProcess) -> None:
    with pytest.raises(BadSymbol):
        client.fetch_order_book("DOGE/USD")
    with pytest.raises(InvalidOrder):  # a limit order without a price, refused by the venue
        client.create_order("BTC/USD", OrderType.LIMIT, Side.BUY, BTC, None)
    with pytest.raises(BadRequest):
        client.create_order("BTC/USD", OrderType.MARKET, Side.BUY, BTC, None, {"timeInForce": "FOK"})
    with pytest.raises(InsufficientFunds):
        client.create_order("BTC/USD", OrderType.LIMIT, Side.BUY, 1_000 * BTC, 5_000_000)
    with pytest.raises(InsufficientFunds):
        client.create_order("BTC/USD", OrderType.MARKET, Side.SELL, 11 * BTC, None)
    with pytest.raises(OrderNotFound):
        client.fetch_order("testvenue-999999999")
    with pytest.raises(OrderNotFound):
        client.fetch_order_by_client_id("never-sent")
    with pytest.raises(InvalidOrder):  # malformed ids never reach the URL
        client.fetch_order("../admin/fills")
    client.create_order("BTC/USD", MARKET, BUY, 1_000, None, {"clientOrderId": "cid-reuse"})
    with pytest.raises(InvalidOrder):
        client.create_order("BTC/USD", MARKET, BUY, 2_000, None, {"clientOrderId": "cid-reuse"})
    wrong_key = HttpVenue("testvenue", venue.url, Secret("x" * 32))
    with pytest.raises(AuthenticationError):
        wrong_key.fetch_balance()
    wrong_key.close()
    nobody = HttpVenue("gone", f"http://127.0.0.1:{free_port()}", Secret("x" * 32), timeout_s=1)
    with pytest.raises(ExchangeNotAvailable):
        nobody.fetch_ticker("BTC/USD")
    nobody.close()
    venue.set_faults(latency_ms=1_500)
    slow = venue.client(timeout_s=0.3)
    with pytest.raises(RequestTimeout):
        slow.fetch_ticker("BTC/USD")
    venue.set_faults(clear=True)
    assert client.fetch_ticker("BTC/USD").bid is not None


def test_a_timed_out_create_was_placed_and_is_found_by_client_order_id(client: HttpVenue,
                                                                       venue: VenueProcess) -> None:
    venue.set_faults(latency_ms=1_200)  # 0.6 s before the order is processed, 0.6 s after
    impatient = venue.client(timeout_s=0.9)
    with pytest.raises(RequestTimeout):
        impatient.create_order("BTC/USD", MARKET, BUY, 1_000, None, {"clientOrderId": "timed-out"})
    venue.set_faults(clear=True)
    found = client.fetch_order_by_client_id("timed-out", "BTC/USD")
    assert found.filled == 1_000
    resent = client.create_order("BTC/USD", MARKET, BUY, 1_000, None, {"clientOrderId": "timed-out"})
    assert resent == found
    assert len([f for f in venue.fills() if f["order_id"] == found.id]) == 1


def test_rate_limit_429_then_success_after_retry_after(client: HttpVenue, venue: VenueProcess) -> None:
    venue.set_faults(rate_limit_rps=3)
    with pytest.raises(RateLimitExceeded) as caught:
        for _ in range(10):
            client.fetch_balance()
    assert isinstance(caught.value, RateLimitExceeded)
    assert caught.value.retry_after_s is not None and 0 < caught.value.retry_after_s <= 1
    time.sleep(caught.value.retry_after_s)
    assert client.fetch_balance().total["BTC"] > 0


def test_outage_window_then_back(client: HttpVenue, venue: VenueProcess) -> None:
    venue.set_faults(down_for_ms=400)
    with pytest.raises(OnMaintenance):
        client.fetch_order_book("BTC/USD")
    with pytest.raises(OnMaintenance):  # private endpoints too, and nothing is placed
        client.create_order("BTC/USD", MARKET, BUY, 1_000, None, {"clientOrderId": "in-outage"})
    time.sleep(0.45)
    assert client.fetch_order_book("BTC/USD").bids
    with pytest.raises(OrderNotFound):
        client.fetch_order_by_client_id("in-outage")


def test_stale_and_wrong_books(client: HttpVenue, venue: VenueProcess) -> None:
    fresh = client.fetch_order_book("BTC/USD", 2)
    venue.set_faults(stale_for_ms=60_000)
    stale = client.fetch_order_book("BTC/USD", 2)
    assert stale.timestamp <= fresh.timestamp - PROFILE.stale_age_ms + 1_000
    venue.set_faults(clear=True, wrong_for_ms=60_000, wrong_ppm=50_000)
    wrong = client.fetch_order_book("BTC/USD", 2)
    honest = venue.client()  # the true book is back once the fault is cleared
    venue.set_faults(clear=True)
    true = honest.fetch_order_book("BTC/USD", 2)
    assert wrong.bids[0].price == true.bids[0].price + true.bids[0].price * 50_000 // 1_000_000


def test_venue_dies_mid_order_every_fill_accounted_once(client: HttpVenue, venue: VenueProcess) -> None:
    level = client.fetch_order_book("BTC/USD", 1).asks[0].amount
    venue.set_faults(die_after_fills=2)
    with pytest.raises(ExchangeNotAvailable):
        client.create_order("BTC/USD", MARKET, BUY, 3 * level, None, {"clientOrderId": "dies"})
    with pytest.raises(ExchangeNotAvailable):  # dead until revived
        client.fetch_ticker("BTC/USD")
    venue.set_faults(clear=True)
    order = client.fetch_order_by_client_id("dies")
    assert order.status is OrderStatus.EXPIRED and 0 < order.filled < 3 * level
    fills = [f for f in venue.fills() if f["order_id"] == order.id]
    assert len(fills) == 2 and sum(int(f["amount"]) for f in fills) == order.filled
    assert sum(int(f["cost"]) for f in fills) == order.cost


def test_client_order_id_and_balances_survive_a_crash(client: HttpVenue, venue: VenueProcess) -> None:
    first = client.create_order("BTC/USD", MARKET, BUY, BTC // 50, None, {"clientOrderId": "crash-1"})
    bid = client.fetch_order_book("BTC/USD", 1).bids[0].price
    resting = client.create_order("BTC/USD", OrderType.LIMIT, Side.BUY, BTC // 10, bid - 10_000,
                                  {"clientOrderId": "rest-1"})
    balance = client.fetch_balance()
    fills = venue.fills()
    venue.kill()
    venue.start()
    again = client.create_order("BTC/USD", MARKET, BUY, BTC // 50, None, {"clientOrderId": "crash-1"})
    assert again == first
    assert venue.fills() == fills  # no second execution
    after = client.fetch_balance()
    assert after == balance and after.used["USD"] > 0  # the resting order still reserves
    assert client.fetch_order(resting.id).status is OrderStatus.OPEN
    cancelled = client.cancel_order(resting.id, "BTC/USD")
    assert cancelled.status is OrderStatus.CANCELED
    assert client.fetch_balance().used["USD"] == 0


def test_service_refuses_another_seed_on_its_database(tmp_path: Path) -> None:
    build(tmp_path / "v.db", PROFILE, 42)
    with pytest.raises(SystemExit, match="belongs to seed"):
        build(tmp_path / "v.db", PROFILE, 43)
    with pytest.raises(SystemExit, match="belongs to venue"):
        build(tmp_path / "v.db", PROFILE.with_(name="othervenue"), 42)


def test_a_change_that_cannot_be_written_is_not_answered_and_not_kept(tmp_path: Path) -> None:
    """The database is locked by someone else: the order is answered 500 and the venue drops its
    in-memory state for the file's, so nothing it could not make durable is ever shown."""
    db = tmp_path / "locked.db"
    app = create_app(build(db, PROFILE, 7, busy_timeout_s=0.05), api_key="a" * 16, admin_key="b" * 16)
    api, admin = {"X-API-KEY": "a" * 16}, {"X-ADMIN-KEY": "b" * 16}
    order = {"symbol": "BTC/USD", "type": "market", "side": "buy", "amount": "1000",
             "clientOrderId": "locked"}
    with TestClient(app) as http:
        funded = http.post("/admin/fund", json={"currency": "USD", "amount": "100000000"}, headers=admin)
        assert funded.is_success
        balance = http.get("/api/v1/balance", headers=api).json()
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        assert http.post("/api/v1/orders", json=order, headers=api).status_code == 500
        blocker.execute("ROLLBACK")
        blocker.close()
        assert http.get("/api/v1/orders", params={"clientOrderId": "locked"}, headers=api).status_code == 404
        assert http.get("/api/v1/balance", headers=api).json() == balance
        placed = http.post("/api/v1/orders", json=order, headers=api)
        assert placed.status_code == 200 and placed.json()["filled"] == "1000"
        assert len(http.get("/admin/fills", headers=admin).json()) == 1
