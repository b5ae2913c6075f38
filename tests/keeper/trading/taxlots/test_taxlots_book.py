"""The persisted book: idempotency, out-of-order events, per-client policy changes (audited,
applying to later disposals), routing's fills, refusals that change nothing, reports and the CLI.
On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from keeper.trading.taxlots import (
    EventConflictError,
    InvalidEventError,
    Kind,
    Method,
    Policy,
    TaxEvent,
    TaxLotBook,
    reports,
)
from keeper.trading.taxlots.__main__ import main
from keeper.trading.taxlots.models import EventRow, LotRow, OutcomeRow, PolicyRow
from keeper.trading.types import Fill, Side

T0 = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
DAY = 86_400_000
BTC = 10**8


def _state(book: TaxLotBook, client: str) -> tuple:
    """Everything the book holds for ``client``: lots, outcomes, events and policy rows."""
    with book.engine.connect() as conn:
        counts = tuple(conn.execute(select(func.count()).select_from(t.__table__)
                                    .where(t.__table__.c.client_id == client)).scalar_one()
                       for t in (EventRow, LotRow, OutcomeRow, PolicyRow))
    return book.lots(client), book.outcomes(client), counts


def test_same_event_twice_changes_nothing_and_other_content_is_refused(book, client):
    first = book.record_acquisition(client, "a1", "BTC", BTC, 1_000_000, T0, fee=100)
    book.record_disposal(client, "d1", "BTC", BTC // 4, 400_000, T0 + DAY)
    before = _state(book, client)
    again = book.record_acquisition(client, "a1", "BTC", BTC, 1_000_000, T0, fee=100)
    assert again.duplicate and not first.duplicate and again.outcome == first.outcome
    assert _state(book, client) == before
    for other in (dict(quantity=2 * BTC), dict(fee=101), dict(at=T0 + 1)):
        args = dict(quantity=BTC, fee=100, at=T0) | other
        with pytest.raises(EventConflictError):
            book.record_acquisition(client, "a1", "BTC", args["quantity"], 1_000_000, args["at"],
                                    fee=args["fee"])
    with pytest.raises(EventConflictError):  # a reference is the client's, whatever the asset
        book.record_disposal(client, "a1", "ETH", 1, 1, T0)
    assert _state(book, client) == before


def test_older_event_after_newer_disposal_equals_replay_in_time_order(book, client):
    # arrival order: a2 (day 10), d1 (day 20), then a1 (day 5) arrives late
    book.record_acquisition(client, "a2", "BTC", BTC, 2_000_000, T0 + 10 * DAY)
    early = book.record_disposal(client, "d1", "BTC", BTC // 2, 1_500_000, T0 + 20 * DAY).outcome
    assert [p.origin for p in early.pieces] == ["a2"]
    late = book.record_acquisition(client, "a1", "BTC", BTC, 1_000_000, T0 + 5 * DAY)
    assert not late.duplicate
    # FIFO now takes half of a1 (500,000): gain 1,500,000 - 500,000 = 1,000,000
    (d1,) = [o for o in book.outcomes(client) if o.kind is Kind.DISPOSE]
    assert [(p.origin, p.basis) for p in d1.pieces] == [("a1", 500_000)] and d1.gain == 1_000_000
    # the same events recorded in time order by another client give the same lots and outcomes
    other = client + "-sorted"
    for e in sorted(book.events(client, "BTC"), key=TaxEvent.key):
        book.record(other, e)
    assert book.lots(other) == book.lots(client)
    assert book.outcomes(other) == book.outcomes(client)


def test_verify_finds_a_tampered_lot_and_rebuild_restores_it(book, client):
    from sqlalchemy import update

    book.record_acquisition(client, "a1", "BTC", BTC, 1_000_000, T0)
    book.record_acquisition(client, "e1", "ETH", 10**18, 300_000, T0)
    book.record_disposal(client, "d1", "BTC", BTC // 3, 500_000, T0 + DAY)
    assert book.verify(client) == []
    good = book.lots(client, "BTC")
    t = LotRow.__table__
    with book.engine.begin() as conn:
        conn.execute(update(t).where(t.c.client_id == client, t.c.asset == "BTC")
                     .values(basis="1"))
    assert book.verify(client) == ["BTC"]
    book.rebuild(client, "BTC")
    assert book.verify(client) == [] and book.lots(client, "BTC") == good


def test_policy_change_is_audited_and_applies_to_later_disposals(book, clock, client):
    book.record_acquisition(client, "a1", "BTC", BTC, 1_000_000, T0)
    book.record_acquisition(client, "a2", "BTC", BTC, 3_000_000, T0 + DAY)
    change_at = int(clock.now.timestamp() * 1000)
    before = book.record_disposal(client, "d1", "BTC", BTC // 2, 2_000_000, change_at - DAY).outcome
    assert before.method is Method.FIFO and before.pieces[0].origin == "a1"
    change = book.set_policy(client, actor="ops.alice", method="hifo")
    assert (change.method, change.effective_from, change.changed_by) == (
        Method.HIFO, change_at, "ops.alice")
    history = book.policy_history(client)
    assert [(h.method, h.changed_by) for h in history] == [(Method.FIFO, "default"),
                                                           (Method.HIFO, "ops.alice")]
    assert history[-1].changed_at == clock.now
    clock.now += timedelta(minutes=1)
    after = book.record_disposal(client, "d2", "BTC", BTC // 2, 2_000_000, change_at + 1).outcome
    assert after.method is Method.HIFO and after.pieces[0].origin == "a2"
    # an older disposal arriving now still uses the method in force at its own time
    old = book.record_disposal(client, "d0", "BTC", BTC // 4, 1_000_000, change_at - 2 * DAY)
    assert old.outcome.method is Method.FIFO
    (d1,) = [o for o in book.outcomes(client) if o.reference == "d1"]
    assert d1.method is Method.FIFO  # the replay kept d1 under FIFO
    assert book.policy(client) == Policy(Method.HIFO, True)
    with pytest.raises(ValueError):
        book.set_policy(client, actor="ops.alice", method="average")


def test_policy_change_is_in_the_audit_trail_or_not_made(taxlots_engine, clock, client):
    """With ``audit=keeper.audit.record_in`` a change and its hash-chained audit record commit
    together; when the record cannot be written the change is not made."""
    from keeper import audit

    url = taxlots_engine.url.render_as_string(hide_password=False)
    audit.upgrade(url)
    book = TaxLotBook(taxlots_engine, clock=clock, audit=audit.record_in)
    with taxlots_engine.connect() as conn:
        before = audit.head(conn).seq
    book.set_policy(client, actor="ops.carol", method=Method.LIFO, fees_in_basis=False)
    with taxlots_engine.connect() as conn:
        after = audit.head(conn)
        body = conn.execute(text("SELECT body FROM audit_records WHERE seq = :s"),
                            {"s": after.seq}).scalar_one()
    assert after.seq == before + 1
    record = json.loads(body)
    assert "ops.carol" in body and "trading.taxlots.policy" in body and client in body, record
    assert audit.verify_trail(taxlots_engine).ok

    def refuse(*_args: object) -> None:
        raise audit.AuditUnavailable("trail down")

    failing = TaxLotBook(taxlots_engine, clock=clock, audit=refuse)
    with pytest.raises(audit.AuditUnavailable):
        failing.set_policy(client, actor="ops.carol", method=Method.HIFO)
    assert [h.method for h in book.policy_history(client)] == [Method.FIFO, Method.LIFO]


def test_fills_feed_lots(book, client):
    buy = Fill("venue-a", "o-1", "ETH/USD", Side.BUY, 2 * 10**18, 300_000, 600_000, 600, T0)
    sell = Fill("venue-b", "o-9", "ETH/USD", Side.SELL, 10**18, 350_000, 350_000, 350, T0 + DAY)
    got = book.record_fill(client, buy)
    assert got.outcome.reference == "fill:venue-a:o-1:0"
    assert (got.outcome.kind, got.outcome.asset, got.outcome.basis) == (Kind.ACQUIRE, "ETH", 600_600)
    sold = book.record_fill(client, sell).outcome
    # half the lot: basis 300,300; proceeds 350,000 - 350 fee = 349,650 -> gain 49,350
    assert (sold.kind, sold.basis, sold.proceeds, sold.gain) == (Kind.DISPOSE, 300_300, 349_650,
                                                                49_350)
    assert book.record_fill(client, sell).duplicate
    second = book.record_fill(client, sell, seq=1)  # another fill of the same venue order
    assert not second.duplicate and second.outcome.reference == "fill:venue-b:o-9:1"
    assert book.lots(client) == []
    with pytest.raises(EventConflictError):
        book.record_fill(client, Fill("venue-a", "o-1", "ETH/USD", Side.BUY, 10**18, 300_000,
                                      300_000, 300, T0))
    for bad in (Fill("v", "o", "DOGE/USD", Side.BUY, 1, 1, 1, 0, T0),
                Fill("v", "o", "ETH/USD", Side.BUY, -1, 1, 1, 0, T0)):
        with pytest.raises(InvalidEventError):
            book.record_fill(client, bad)


@pytest.mark.parametrize("bad", [
    dict(reference="x\x00y"), dict(reference=""), dict(asset="DOGE"), dict(quantity=0),
    dict(quantity=-5), dict(quantity=1.5), dict(amount=-1), dict(fee=10**30),
    dict(occurred_at=-1), dict(occurred_at="soon"),
    dict(kind=Kind.TRANSFER, to_location="custody"), dict(kind=Kind.TRANSFER),
    dict(kind=Kind.TRANSFER, to_location="hot", fee_quantity=BTC),
    dict(to_location="hot"), dict(fee_quantity=1),
    dict(kind="acquire", amount=5), dict(kind="transfer", to_location="hot"),  # not a Kind
])
def test_malformed_events_are_refused_and_change_nothing(book, client, bad):
    book.record_acquisition(client, "a1", "BTC", BTC, 1_000_000, T0)
    before = _state(book, client)
    fields = dict(reference="e1", kind=Kind.DISPOSE, asset="BTC", quantity=BTC, occurred_at=T0 + 1,
                  location="custody") | bad
    with pytest.raises(InvalidEventError):
        book.record(client, TaxEvent(**fields))
    assert _state(book, client) == before


def test_a_batch_is_recorded_whole_or_not_at_all(book, client):
    events = [TaxEvent("a1", Kind.ACQUIRE, "BTC", BTC, T0, "custody", amount=1_000_000),
              TaxEvent("e1", Kind.ACQUIRE, "ETH", 10**18, T0, "custody", amount=300_000),
              TaxEvent("d1", Kind.DISPOSE, "BTC", BTC // 2, T0 + DAY, "custody", amount=900_000)]
    bad = TaxEvent("d2", Kind.DISPOSE, "DOGE", 1, T0 + DAY, "custody")
    with pytest.raises(InvalidEventError):
        book.record_many(client, [*events, bad])
    assert _state(book, client)[2] == (0, 0, 0, 0)
    got = book.record_many(client, [*events, events[0]])
    assert [r.duplicate for r in got] == [False, False, False, True]
    assert got[2].outcome.gain == 400_000  # half of a1 (500,000) sold for 900,000
    single = client + "-one-by-one"
    for e in events:
        book.record(single, e)
    assert book.lots(single) == book.lots(client) and book.outcomes(single) == book.outcomes(client)


def test_future_dated_event_and_bad_client_are_refused(book, clock, client):
    future = int((clock.now + timedelta(hours=1)).timestamp() * 1000)
    with pytest.raises(InvalidEventError):
        book.record_acquisition(client, "a1", "BTC", BTC, 1, future)
    with pytest.raises(InvalidEventError):
        book.record_acquisition("c" * 65, "a1", "BTC", BTC, 1, T0)
    assert _state(book, client)[2] == (0, 0, 0, 0)


def test_reports_realised_by_period_and_unrealised_at_prices(book, client):
    book.record_acquisition(client, "a1", "BTC", BTC, 1_000_000, T0)
    book.record_acquisition(client, "e1", "ETH", 10**18, 300_000, T0)
    book.record_disposal(client, "d1", "BTC", BTC // 4, 500_000, T0 + 10 * DAY)
    book.record_disposal(client, "d2", "BTC", BTC // 4, 700_000, T0 + 400 * DAY)
    rep = reports.report(book, client, T0 + 300 * DAY, T0 + 500 * DAY, {"BTC": 4_000_000})
    realised = rep["realised"]
    assert [d["reference"] for d in realised["disposals"]] == ["d2"]  # d1 is before the period
    # d2: a quarter of a1 (250,000) for 700,000, held 400 days: long 450,000
    assert realised["totals"]["BTC"]["gain"] == "450000"
    assert realised["totals"]["BTC"]["long_gain"] == "450000"
    btc = rep["unrealised"]["assets"]["BTC"]
    # half a BTC left, basis 500,000, worth 4,000,000 / 2 = 2,000,000 -> 1,500,000 unrealised
    assert (btc["quantity"], btc["basis"], btc["value"], btc["gain"]) == (
        str(BTC // 2), "500000", "2000000", "1500000")
    assert [(x["origin"], x["value"], x["gain"]) for x in btc["lots"]] == [
        ("a1", "2000000", "1500000")]
    assert rep["unrealised"]["assets"]["ETH"]["priced"] is False  # no price given: not valued
    assert "value" not in rep["unrealised"]["assets"]["ETH"]["lots"][0]
    assert rep["policy_history"][0]["method"] == "fifo"
    json.dumps(rep)
    rows = list(csv.DictReader(io.StringIO(reports.realised_csv(realised))))
    assert [(r["reference"], r["origin"], r["gain"], r["term"]) for r in rows] == [
        ("d2", "a1", "450000", "long")]


def test_csv_cells_from_outside_are_not_formulas(book, client):
    book.record_disposal(client, "=HYPERLINK(1)", "BTC", 1, 1, T0, location="@loc")
    text = reports.realised_csv(reports.realised_report(book, client))
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["reference"] == "'=HYPERLINK(1)" and row["location"] == "'@loc"


def test_cli_lots_set_method_and_report(book, client, taxlots_engine, capsys):
    from keeper import audit

    url = taxlots_engine.url.render_as_string(hide_password=False)
    audit.upgrade(url)  # the keeper's database has every schema; the CLI audits its changes
    book.record_acquisition(client, "a1", "BTC", BTC, 1_000_000, T0)
    book.record_disposal(client, "d1", "BTC", BTC // 2, 800_000, T0 + DAY)
    assert main(["--db", url, "lots", client]) == 0
    lots = json.loads(capsys.readouterr().out)
    assert [(x["origin"], x["quantity"], x["basis"]) for x in lots] == [("a1", str(BTC // 2),
                                                                          "500000")]
    assert main(["--db", url, "set-method", client, "lifo", "--actor", "ops.bob"]) == 0
    assert json.loads(capsys.readouterr().out)["changed_by"] == "ops.bob"
    with taxlots_engine.connect() as conn:
        last = conn.execute(text("SELECT body FROM audit_records ORDER BY seq DESC LIMIT 1"))
        assert "ops.bob" in last.scalar_one()
    assert book.policy_history(client)[-1].method is Method.LIFO
    assert main(["--db", url, "report", client, "--price", "BTC=2000000"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["realised"]["totals"]["BTC"]["gain"] == "300000"
    assert rep["unrealised"]["assets"]["BTC"]["gain"] == "500000"
    assert main(["--db", url, "report", client, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("d1,")
    assert main(["--db", url, "report", client, "--price", "BTC=-1"]) == 2
    assert main(["--db", url, "verify", client]) == 0
    assert json.loads(capsys.readouterr().out)["mismatched"] == []
    fresh = client + "-new"  # its first record is the method change: the given default first
    assert main(["--db", url, "--default-method", "hifo", "--default-fees-in-basis", "no",
                 "set-method", fresh, "lifo", "--actor", "ops.bob"]) == 0
    capsys.readouterr()
    assert [(h.method, h.fees_in_basis, h.changed_by) for h in book.policy_history(fresh)] == [
        (Method.HIFO, False, "default"), (Method.LIFO, False, "ops.bob")]


def test_two_writers_on_one_client_equal_replay(taxlots_engine, clock, client):
    """Two keepers record one client's fills at once (each its own book and connections): the
    lots are those of the replay in time order, every event recorded once."""
    from concurrent.futures import ThreadPoolExecutor

    from keeper.trading.taxlots import replay

    events = [TaxEvent(f"e{i}", Kind.ACQUIRE if i % 3 else Kind.DISPOSE, "BTC",
                       (i % 5 + 1) * 10**7, T0 + (i * 7919 % 23) * DAY, "custody",
                       amount=100_000 + i * 1_001, fee=i) for i in range(24)]
    books = [TaxLotBook(taxlots_engine, clock=clock) for _ in range(2)]

    def feed(k: int) -> list[bool]:
        return [books[k].record(client, e).duplicate for e in events[k::2] + events[::3]]

    with ThreadPoolExecutor(2) as pool:
        flags = [f for fs in pool.map(feed, range(2)) for f in fs]
    assert flags.count(False) == len(events)  # each event applied once, the rest duplicates
    holdings, outcomes = replay(events, lambda _ms: Policy(Method.FIFO, True))
    assert books[0].lots(client, "BTC") == sorted(holdings.lots.values(),
                                                  key=lambda x: (x.acquired_at, x.origin))
    assert books[1].outcomes(client) == outcomes
