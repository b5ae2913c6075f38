"""Best execution over a real routed order: the router over the venues' matching engines in this
process (``LocalVenue``), the packaged jurisdiction rules and SQLite; its stored execution turned
into a record (``from_execution``) agrees with routing's own figures, and the CLI reports it from
the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keeper.ledger import Ledger
from keeper.ledger.db import make_engine
from keeper.trading.bestex import analyse, from_execution
from keeper.trading.bestex.__main__ import main
from keeper.trading.jurisdiction import JurisdictionPolicy
from keeper.trading.routing import ParentStatus, RoutedVenue, Router, RoutingStore
from keeper.trading.types import ParentOrder, Side
from scripts.services.venues.inprocess import local_venues
from scripts.services.venues.profile import DEFAULT_PROFILES
from strongroom_testkit.dbtemplate import fresh_url

BTC = 10**8
T0 = 1_800_000_000_000
CALM = {
    n: p.with_(stale_probability=0.0, wrong_price_probability=0.0, outage_probability=0.0)
    for n, p in DEFAULT_PROFILES.items()
}


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory):
    url = fresh_url(tmp_path_factory.mktemp('bestex') / 'routing.db',
                    migrated=True, modules=("keeper.ledger.migrate", "keeper.trading.migrate"))
    engine = make_engine(url)
    ledger = Ledger(engine, group_commit=False)
    venues = local_venues(11, clock=lambda: T0, profiles=CALM, funds={"USD": 10**11, "BTC": 10**10})
    router = Router(
        RoutingStore(engine),
        {n: RoutedVenue(v, CALM[n].latency_ms) for n, v in venues.items()},
        JurisdictionPolicy(),
        ledger.raise_alert,
        clock=lambda: T0,
    )
    us = router.route(
        ParentOrder("us1", "client-1", "BTC/USD", Side.BUY, 8 * BTC, None, "US", "institutional", T0)
    )
    ch = router.route(
        ParentOrder("ch1", "client-2", "BTC/USD", Side.SELL, 3 * BTC, None, "CH", "institutional", T0 + 1)
    )
    yield url, engine, us, ch
    ledger.close()
    engine.dispose()


def test_a_routed_execution_reports_the_same_figures_as_routing(routed) -> None:
    _, engine, us, ch = routed
    stored = RoutingStore(engine).execution("us1")
    assert us.status == ParentStatus.FILLED
    r = analyse(from_execution(stored))
    assert (r.filled, r.notional, r.fees, r.all_in) == (us.filled, us.notional, us.fee, us.all_in)
    # routing's baseline is the same best single venue over the same books and the same amount
    assert r.baseline == us.decision.baseline.venue
    assert r.improvement == us.improvement() and r.beats_baseline == (us.improvement() > 0)
    assert r.routed_compliance_cost == us.decision.compliance_cost > 0
    rows = {v.venue: v for v in r.venues}
    assert rows["thirdex"].status == "blocked" and rows["thirdex"].filled == 0
    assert "US.venues" in rows["thirdex"].note
    # the policy block is listed once (as a policy block), not again as a round's exclusion
    assert [b.venue for b in r.record.blocked] == ["thirdex"]
    assert [e.venue for e in r.record.excluded] == []
    assert sum(v.filled for v in r.venues) == r.filled and sum(v.share for v in r.venues) == 1
    assert r.arrival_mid is not None and r.vwap is not None and r.slippage_vs_arrival_bps is not None
    c = analyse(from_execution(RoutingStore(engine).execution("ch1")))
    assert c.parent.side is Side.SELL and c.forbidden_best is None and c.routed_compliance_cost is None
    assert c.all_in == ch.all_in and c.improvement == ch.improvement()


def test_cli_reports_stored_executions_from_the_database(routed, tmp_path: Path) -> None:
    url, _, us, ch = routed
    out = tmp_path / "reports"
    assert main(["period", "--database-url", url, "--order", "us1", "--order", "ch1", "--out", str(out)]) == 0
    body = json.loads((out / "bestex-period.json").read_text())
    usd = body["summaries"]["USD"]
    assert usd["orders"] == 2 and usd["total_improvement"] == us.improvement() + ch.improvement()
    assert usd["routed_compliance_cost"] == us.decision.compliance_cost
    assert (out / "bestex-period.pdf").read_bytes().startswith(b"%PDF-")
    assert main(["order", "--database-url", url, "--order", "nope", "--out", str(out)]) == 2
