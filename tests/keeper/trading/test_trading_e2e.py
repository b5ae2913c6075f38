"""Trading end to end over the three venue services (real processes, HTTP; the default profiles
made calm, no random outages, stale or wrong books, so only the faults a test forces happen),
started once for this module:

* a US institutional client's buy is routed under the jurisdiction rules (the offshore venue they
  forbid never gets a child), the best-execution report is built from the stored execution and
  agrees with routing's own baseline, and the client's tax lots are built from the same fills; a
  later sell consumes those lots (FIFO, the default) for its net proceeds;
* a venue told to die after one fill fails mid-order (503 with the fill made): its child is held
  unknown while the rest is re-routed, and once the venue is revived the keeper's resume job
  (venues from the registry file) settles it by client order id;
* a venue in maintenance is left out with one alert.

Every fill is checked against the venues' own records (``/admin/fills``). (A crash between a
child's row and its outcome is tested over the same simulator in process, in
routing/test_routing_router.py.)"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from keeper.config import Settings
from keeper.jobs.scheduler import JobRun
from keeper.keys.secrets import write_secret_file
from keeper.ledger import Ledger
from keeper.ledger.db import make_engine
from keeper.trading.bestex import analyse, from_execution, order_document, render_html
from keeper.trading.jurisdiction import JurisdictionPolicy
from keeper.trading.routing import ChildStatus, ParentStatus, RoutedVenue, Router, RoutingStore
from keeper.trading.routing.jobs import resume
from keeper.trading.taxlots import Kind, TaxLotBook
from keeper.trading.types import ParentOrder, Side
from scripts.services.venues.profile import DEFAULT_PROFILES
from strongroom_testkit.dbtemplate import fresh_url
from strongroom_testkit.venues import start_venues, stop_venues

BTC = 10**8


@pytest.fixture(scope="module")
def venues(tmp_path_factory):
    d = tmp_path_factory.mktemp("calm-venues")
    files = {}
    for name, profile in DEFAULT_PROFILES.items():
        files[name] = d / f"{name}.json"
        files[name].write_text(profile.with_(stale_probability=0.0, wrong_price_probability=0.0,
                                             outage_probability=0.0).to_json())
    started = start_venues(d, profiles=files)
    yield started
    stop_venues(started)


@pytest.fixture
def db(tmp_path):
    url = fresh_url(tmp_path / 'routing.db',
                    migrated=True, modules=("keeper.ledger.migrate", "keeper.trading.migrate"))
    engine = make_engine(url)
    ledger = Ledger(engine, group_commit=False)
    yield url, engine, ledger
    ledger.close()
    engine.dispose()


def router(venues, engine, ledger) -> Router:
    routed = {n: RoutedVenue(v.client(), DEFAULT_PROFILES[n].latency_ms) for n, v in venues.items()}
    return Router(RoutingStore(engine), routed, JurisdictionPolicy(), ledger.raise_alert)


def parent(pid: str, amount: int) -> ParentOrder:
    return ParentOrder(pid, "client-h", "BTC/USD", Side.BUY, amount, None, "CH", "institutional",
                       0)


def venue_fills_since(venues, marks) -> dict[tuple[str, str], tuple[int, int, int]]:
    """What the venues recorded for us since ``marks`` (fills per venue at the start)."""
    out: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for name, v in venues.items():
        for f in v.fills()[marks[name]:]:
            acc = out[(name, f["order_id"])]
            acc[0] += int(f["amount"])
            acc[1] += int(f["cost"])
            acc[2] += int(f["fee"])
    return {k: tuple(v) for k, v in out.items()}


def marks(venues) -> dict[str, int]:
    return {n: len(v.fills()) for n, v in venues.items()}


def assert_accounted_once(venues, start, ex) -> None:
    ours = {(f.venue, f.order_id): (f.amount, f.cost, f.fee) for f in ex.fills}
    assert len(ours) == len(ex.fills)
    assert ours == venue_fills_since(venues, start)


def test_a_venue_dying_mid_order_over_http_is_dropped_rerouted_and_settled(venues, db, tmp_path):
    _, engine, ledger = db
    start = marks(venues)
    venues["deepbook"].set_faults(die_after_fills=1)
    r = router(venues, engine, ledger)
    ex = r.route(parent("h1", 12 * BTC))
    deep = [c for c in ex.children if c.venue == "deepbook"]
    assert [c.status for c in deep] == [ChildStatus.UNKNOWN]  # 503 after it took one fill
    assert ex.status == ParentStatus.UNRESOLVED and ex.filled == 12 * BTC - deep[0].amount
    venues["deepbook"].set_faults(clear=True)  # revived
    # the keeper's job resumes it, over the venues of the registry file (keys in 0600 files)
    registry = {"venues": []}
    for name, v in venues.items():
        write_secret_file(tmp_path / f"venue-{name}.key", v.api_key)
        registry["venues"].append({"id": name, "url": v.url, "api_key_file": f"venue-{name}.key"})
    (tmp_path / "venues.json").write_text(json.dumps(registry))
    host = SimpleNamespace(settings=Settings(
        data_dir=tmp_path, trading_venues_file=tmp_path / "venues.json", secrets_dir=tmp_path),
        ledger=ledger)
    off = SimpleNamespace(settings=Settings(data_dir=tmp_path, secrets_dir=tmp_path),
                          ledger=ledger)
    assert resume(JobRun(off, "trading_routing_resume", datetime.now(UTC))) == 0
    assert resume(JobRun(host, "trading_routing_resume", datetime.now(UTC))) == 1
    ex = r.execution("h1")
    deep = [c for c in ex.children if c.venue == "deepbook"]
    assert [c.status for c in deep] == [ChildStatus.DONE] and 0 < deep[0].filled < deep[0].amount
    assert ex.status == ParentStatus.FILLED and ex.filled == 12 * BTC
    assert_accounted_once(venues, start, ex)


def test_a_venue_in_maintenance_is_left_out_with_one_alert(venues, db):
    _, engine, ledger = db
    venues["thirdex"].set_faults(down_for_ms=60_000)
    try:
        r = router(venues, engine, ledger)
        for pid in ("m1", "m2"):
            ex = r.route(parent(pid, 2 * BTC))
            assert ex.status == ParentStatus.FILLED
            assert "thirdex" not in {c.venue for c in ex.children}
            assert [e.exclusion.reason for e in ex.excluded if e.exclusion.venue == "thirdex"] \
                == ["unavailable"]
    finally:
        venues["thirdex"].set_faults(clear=True)
    assert [k for k, _, _ in ledger.alerts()] == ["trading.routing_unavailable"]


@pytest.fixture
def desk(db, venues):
    _, engine, ledger = db
    routed = {n: RoutedVenue(v.client()) for n, v in venues.items()}
    router = Router(RoutingStore(engine), routed, JurisdictionPolicy(), ledger.raise_alert)
    return router, TaxLotBook(engine), venues


def test_route_report_and_tax_lots_from_one_parent(desk):
    router, lots, venues = desk
    thirdex_orders = len([f for f in venues["thirdex"].fills()])
    buy = ParentOrder("e2e-buy-1", "client-us-1", "BTC/USD", Side.BUY, 2 * BTC, None, "US",
                      "institutional", 1_800_000_000_000)
    ex = router.route(buy)
    assert ex.status == ParentStatus.FILLED and ex.filled == 2 * BTC
    assert "thirdex" not in {c.venue for c in ex.children}  # US rules forbid it: never sent
    assert len(venues["thirdex"].fills()) == thirdex_orders

    # best execution, from what routing stored
    report = analyse(from_execution(router.execution(buy.id)))
    assert report.filled == ex.filled and report.all_in == ex.all_in
    assert report.improvement == ex.improvement()  # one baseline, computed the same way
    assert report.baseline == ex.decision.baseline.venue
    html = render_html(order_document(report))
    assert buy.id in html and "thirdex" in html  # every venue looked at is in the report

    # tax lots: each fill once, cost basis with fees (the default)
    for fill in ex.fills:
        lots.record_fill(buy.client_id, fill)
    held = lots.lots(buy.client_id, "BTC")
    assert sum(x.quantity for x in held) == 2 * BTC
    assert sum(x.basis for x in held) == ex.notional + ex.fee
    for fill in ex.fills:  # recording the same fills again changes nothing
        lots.record_fill(buy.client_id, fill)
    assert lots.lots(buy.client_id, "BTC") == held

    sell = ParentOrder("e2e-sell-1", "client-us-1", "BTC/USD", Side.SELL, BTC // 2, None, "US",
                       "institutional", 1_800_000_100_000)
    sold = router.route(sell)
    assert sold.status == ParentStatus.FILLED
    for fill in sold.fills:
        lots.record_fill(sell.client_id, fill)
    left = lots.lots(sell.client_id, "BTC")
    assert sum(x.quantity for x in left) == 2 * BTC - BTC // 2
    disposals = [o for o in lots.outcomes(sell.client_id) if o.kind is Kind.DISPOSE]
    assert sum(o.quantity for o in disposals) == BTC // 2
    basis = sum(p.basis for o in disposals for p in o.pieces)
    assert basis == sum(x.basis for x in held) - sum(x.basis for x in left)  # taken from the lots
    assert sum(o.proceeds for o in disposals) == sold.notional - sold.fee  # fees in basis: net
