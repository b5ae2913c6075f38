"""Trading end to end over the three venue services (real processes, HTTP): a US institutional
client's buy is routed under the jurisdiction rules (the offshore venue they forbid never gets
a child), the best-execution report is built from the stored execution and agrees with routing's
own baseline, and the client's tax lots are built from the same fills; a later sell consumes
those lots (FIFO, the default) for its net proceeds. Assertions hold whichever venues the seeded
faults leave in."""

from __future__ import annotations

import pytest

from keeper.ledger import Ledger
from keeper.ledger import migrate as ledger_migrate
from keeper.ledger.db import make_engine
from keeper.trading import migrate as trading_migrate
from keeper.trading.bestex import analyse, from_execution, order_document, render_html
from keeper.trading.jurisdiction import JurisdictionPolicy
from keeper.trading.routing import ParentStatus, RoutedVenue, Router, RoutingStore
from keeper.trading.taxlots import Kind, TaxLotBook
from keeper.trading.types import ParentOrder, Side
from strongroom_testkit.venues import venue_services  # noqa: F401  (session fixture)

BTC = 10**8


@pytest.fixture
def desk(tmp_path, venue_services):  # noqa: F811
    url = f"sqlite:///{tmp_path / 'trading.db'}"
    ledger_migrate.SCHEMA.upgrade(url)
    trading_migrate.SCHEMA.upgrade(url)
    engine = make_engine(url)
    ledger = Ledger(engine, group_commit=False)
    routed = {n: RoutedVenue(v.client()) for n, v in venue_services.items()}
    router = Router(RoutingStore(engine), routed, JurisdictionPolicy(), ledger.raise_alert)
    yield router, TaxLotBook(engine), venue_services
    ledger.close()
    engine.dispose()


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
