"""The indexed history (:class:`History`) decides exactly as a plain scan of the history: every
rule, every window edge, movements added out of time order, equal times, a movement carrying the
judged movement's own id, and a horizon shorter than a rule's window (hypothesis)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, and_, event, insert

from keeper.compliance import totals
from keeper.compliance.gate import HISTORY, Histories, _gaps, _merge, _summaries
from keeper.compliance.migrate import SCHEMA, upgrade
from keeper.compliance.models import MovementRow
from keeper.compliance.rules_engine import (
    OUT_KINDS,
    History,
    Movement,
    RuleHit,
    RuleSet,
    evaluate,
    reach,
)
from keeper.compliance.totals import gap_summaries
from keeper.ledger.db import make_engine
from strongroom_testkit.sqlitesteps import vm_steps

T0 = datetime(2026, 11, 23, 12, tzinfo=UTC)
RULES = RuleSet.load()
KINDS = ["deposit", "buy", "transfer_in", "withdrawal", "transfer_out"]
# around the rules' edges: R001's band, R004's 10k, R006's 10x
CENTS = [1, 100, 899_999, 900_000, 950_000, 999_999, 1_000_000, 500_001, 5_000_000]
# offsets in seconds before T0: on and around the 1 h, 24 h and 30 d edges
OFFSETS = [0, 1, 59, 3_599, 3_600, 3_601, 86_399, 86_400, 86_401, 2_591_999, 2_592_000, 2_592_001]


def _scan(rules: RuleSet, tx: Movement, hist: list[Movement], horizon: timedelta | None) -> list[RuleHit]:
    """The reference: the rules as a plain scan of the history (the engine before indexing)."""

    def within(seconds: int) -> list[Movement]:
        since = tx.at - timedelta(seconds=seconds)
        if horizon is not None:
            since = max(since, tx.at - horizon)
        return [m for m in hist if since < m.at <= tx.at and m.id != tx.id]

    hits = []
    for rule in rules.rules:
        p: dict[str, Any] = rule.parameters
        why = None
        if rule.id == "R001" and p["low_cents"] <= tx.usd_cents <= p["high_cents"]:
            n = 1 + sum(p["low_cents"] <= m.usd_cents <= p["high_cents"] for m in within(p["window_s"]))
            why = f"{n} transactions of $9,000-$9,999.99 within 24 h" if n >= p["min_count"] else None
        elif rule.id == "R002" and tx.kind in OUT_KINDS:
            buys = sorted(m.at for m in within(p["window_s"]) if m.kind == "buy" and m.at < tx.at)
            why = f"transfer out {int((tx.at - buys[-1]).total_seconds())} s after a buy" if buys else None
        elif rule.id == "R003":
            c = (tx.country or "").upper()
            why = f"high-risk country {c}" if c and c in {x.upper() for x in p["countries"]} else None
        elif rule.id == "R004":
            total = tx.usd_cents + sum(m.usd_cents for m in within(p["window_s"]))
            why = f"{total} cents within 24 h" if total > p["above_cents"] else None
        elif rule.id == "R005" and tx.kind in OUT_KINDS:
            hit = sorted(tx.address_labels & set(p["labels"]))
            why = f"destination labelled {', '.join(hit)}" if hit else None
        elif rule.id == "R006":
            past = within(p["baseline_s"])
            total = sum(m.usd_cents for m in past)
            if len(past) >= p["min_history"] and tx.usd_cents * len(past) >= p["factor"] * total > 0:
                why = f"{tx.usd_cents} cents is {p['factor']}x or more the trailing mean of {len(past)}"
        if why is not None:
            hits.append(RuleHit(rule.id, rules.version, rule.action, why))
    return hits


movement = st.builds(
    lambda i, kind, cents, off: Movement(f"m{i}", "c1", kind, "USDC", cents * 10_000, cents,
                                         T0 - timedelta(seconds=off)),
    st.integers(0, 40), st.sampled_from(KINDS), st.sampled_from(CENTS),
    st.one_of(st.sampled_from(OFFSETS), st.integers(-100, 2_700_000)))


@settings(max_examples=150, deadline=None)
@given(hist=st.lists(movement, max_size=25), txs=st.lists(movement, min_size=1, max_size=6),
       horizon_days=st.sampled_from([None, 1, 31]))
def test_indexed_history_decides_as_a_scan(hist: list[Movement], txs: list[Movement],
                                           horizon_days: int | None) -> None:
    horizon = None if horizon_days is None else timedelta(days=horizon_days)
    indexed = History(hist, horizon=horizon)
    seen = list(hist)
    for tx in txs:  # judged one after another, each added afterwards (in or out of time order)
        assert evaluate(RULES, tx, indexed) == _scan(RULES, tx, seen, horizon)
        if horizon is None:
            assert evaluate(RULES, tx, seen) == _scan(RULES, tx, seen, None)
        indexed.add(tx)
        seen.append(tx)


def test_own_id_is_never_counted() -> None:
    """A stored movement with the judged movement's id is left out of every window (R002 falls
    back to the buy before it)."""
    buy = Movement("b1", "c1", "buy", "USDC", 10**6, 100, T0 - timedelta(minutes=30))
    twin = Movement("t1", "c1", "buy", "USDC", 10**6, 100, T0 - timedelta(minutes=10))
    tx = Movement("t1", "c1", "transfer_out", "USDC", 10**6, 100, T0)
    hits = {h.rule_id: h.reason for h in evaluate(RULES, tx, History([buy, twin]))}
    assert hits["R002"] == "transfer out 1800 s after a buy"


# ---- a batch's history read from the database: rows near a window edge one by one, the rest
# as per-gap sums (Histories with the rules' reach) decides as the scan of every stored row
_MOV = MovementRow.__table__
_CTR_AT = [1, 100, 3_600, 50_000, 80_000, 86_399, 86_400, 86_401, 1_000_000]  # s before T0


def _row(m: Movement, blocked: bool = False, ctr: bool = False) -> dict[str, Any]:
    return {"id": m.id, "client_id": m.client_id, "kind": m.kind, "asset": m.asset,
            "units": str(m.units), "usd_cents": m.usd_cents, "at": m.at, "rules_version": 1,
            "verdict": "block" if blocked else "allow",
            "detail": json.dumps({"ctr_filed": ctr}, sort_keys=True)}


def _sums_equal_the_database_sums(conn: Connection, batch: list[Movement]) -> None:
    """The gap summaries from the running totals equal the database's SUM over the gaps' rows
    (the computation the totals replace)."""
    first, until = min(t.at for t in batch), max(t.at for t in batch)
    r = reach(RULES)
    spans = {HISTORY} | {min(timedelta(seconds=w), HISTORY) for w in r.windows}
    edges = _merge([(first - s, until - s) for s in spans] + [(first, until)])
    ctr_since = first - timedelta(days=1)
    client = batch[0].client_id
    live = and_(_MOV.c.client_id == client, _MOV.c.verdict != "block",
                _MOV.c.at > first - HISTORY, _MOV.c.at <= until)
    old = sorted(((s.at, s.count, s.cents, sorted(s.bands.items()), s.last_buy), c)
                 for _, s, c in _summaries(conn, live, edges, r, ctr_since))
    new = gap_summaries(conn, client, _gaps(edges), r.bands, ctr_since)
    assert new is not None
    assert sorted(((s.at, s.count, s.cents, sorted(s.bands.items()), s.last_buy), c)
                  for s, c in new) == old


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hist=st.lists(movement, max_size=30), txs=st.lists(movement, min_size=1, max_size=5),
       ctr=st.lists(st.sampled_from(_CTR_AT), max_size=3), blocked=st.sets(st.integers(0, 29)),
       spread=st.integers(0, 7_200), backwards=st.booleans(), cut=st.integers(1, 12))
def test_summarised_batch_history_decides_as_a_scan(engine: Engine, hist: list[Movement],
                                                    txs: list[Movement], ctr: list[int],
                                                    blocked: set[int], spread: int,
                                                    backwards: bool, cut: int) -> None:
    """Stored through :func:`totals.store` in chunks, in time order or against it (each chunk
    then lands before stored ones and updates their totals)."""
    client = f"c-{uuid.uuid4().hex}"
    stored = [replace(m, id=f"s{i}-{client}", client_id=client,
                      at=m.at - timedelta(seconds=3 * spread)) for i, m in enumerate(hist)]
    stored += [Movement(f"ctr{i}-{client}", client, "deposit", "USDC", 10_000, 1,
                        T0 - timedelta(seconds=s)) for i, s in enumerate(ctr)]
    ctr_ids = {m.id for m in stored[len(hist):]}
    rows = [_row(m, i in blocked, m.id in ctr_ids) for i, m in enumerate(stored)]
    rows.sort(key=lambda r: r["at"], reverse=backwards)
    for i in range(0, len(rows), cut):
        with engine.begin() as conn:
            totals.store(conn, rows[i:i + cut], reach(RULES).bands)
    live = [m for i, m in enumerate(stored) if i not in blocked]
    batch = [replace(t, id=f"t{i}-{client}", client_id=client,
                     at=T0 + timedelta(seconds=spread * (i % 2))) for i, t in enumerate(txs)]
    with engine.connect() as conn:
        full = Histories(conn, batch)
        summed = Histories(conn, batch, reach(RULES))
        _sums_equal_the_database_sums(conn, batch)
    assert summed.rows <= full.rows
    seen = list(live)
    for tx in batch:  # judged in order, each added afterwards, as screen_many does
        expect = _scan(RULES, tx, seen, HISTORY)
        assert evaluate(RULES, tx, summed.before(tx)) == expect
        assert evaluate(RULES, tx, full.before(tx)) == expect
        for window in (timedelta(hours=1), timedelta(days=1)):
            assert summed.ctr_within(tx, window) == full.ctr_within(tx, window)
        summed.add(tx, False)
        full.add(tx, False)
        seen.append(tx)


def test_a_batch_reads_only_rows_near_window_edges(engine: Engine) -> None:
    """Thousands of stored movements spread over the month: a batch at one instant reads none
    of them one by one (their sums per gap between window edges decide), and still sees them
    and the CTR one of them filed."""
    client = f"c-{uuid.uuid4().hex}"
    rows = [{"id": f"s{i}-{client}", "client_id": client, "kind": "deposit", "asset": "USDC",
             "units": "10000", "usd_cents": 1, "at": T0 - timedelta(seconds=37 + 877 * i),
             "verdict": "allow", "rules_version": 1, "detail": "{}"} for i in range(2_000)]
    rows[91]["detail"] = json.dumps({"ctr_filed": True})  # 22.2 h before: inside the CTR window
    with engine.begin() as conn:
        totals.store(conn, rows, reach(RULES).bands)
    tx = Movement(f"t-{client}", client, "deposit", "USDC", 10**6 * 100_000, 10_000_000, T0)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with engine.connect() as conn:
            summed = Histories(conn, [tx], reach(RULES))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert summed.rows == 0
    # no sum over the client's month: the gaps' totals are two rows of running totals each
    assert [q for q in statements if "sum(" in q.lower()] == []
    assert summed.ctr_within(tx, timedelta(days=1))
    assert not summed.ctr_within(tx, timedelta(hours=22))
    day = sum(1 for r in rows if r["at"] > T0 - timedelta(days=1))
    assert evaluate(RULES, tx, summed.before(tx))[0].reason == f"{10_000_000 + day} cents within 24 h"
    assert [h.rule_id for h in evaluate(RULES, tx, summed.before(tx))] == ["R004", "R006"]


def test_totals_filled_by_the_migration_decide_as_a_scan_and_gain_bands(engine: Engine) -> None:
    """Movements stored before the totals existed: the migration's backfill (no band counts)
    makes a batch fall back to the database's sums (same verdicts), and the next store adds the
    rules' bands so later batches read two totals rows per gap."""
    client = f"c-{uuid.uuid4().hex}"
    hist = [Movement(f"s{i}-{client}", client, "buy" if i % 5 == 0 else "deposit", "USDC",
                     10**6, c, T0 - timedelta(seconds=off))
            for i, (c, off) in enumerate(zip(CENTS * 3, OFFSETS * 3, strict=False))]
    url = engine.url.render_as_string(hide_password=False)
    SCHEMA.downgrade(url, "0004")  # before the totals: movements alone
    with engine.begin() as conn:
        conn.execute(insert(_MOV), [_row(m, ctr=i == 4) for i, m in enumerate(hist)])
    engine.dispose()
    SCHEMA.upgrade(url)  # 0005 fills the totals from them
    tx = Movement(f"t-{client}", client, "transfer_out", "USDC", 10**6, 950_000, T0)
    with engine.connect() as conn:
        assert gap_summaries(conn, client, [(T0 - HISTORY, T0)], reach(RULES).bands, T0) is None
        summed = Histories(conn, [tx], reach(RULES))
    assert evaluate(RULES, tx, summed.before(tx)) == _scan(RULES, tx, hist, HISTORY)
    later = Movement(f"u-{client}", client, "deposit", "USDC", 10**6, 900_000,
                     T0 + timedelta(seconds=5))
    with engine.begin() as conn:
        totals.store(conn, [_row(tx), _row(later)], reach(RULES).bands)
    nxt = Movement(f"v-{client}", client, "transfer_out", "USDC", 10**6, 999_999,
                   T0 + timedelta(seconds=9))
    with engine.connect() as conn:
        _sums_equal_the_database_sums(conn, [nxt])
        summed = Histories(conn, [nxt], reach(RULES))
    assert evaluate(RULES, nxt, summed.before(nxt)) == _scan(RULES, nxt, [*hist, tx, later], HISTORY)


def _vm_steps(engine: Engine, txs: list[Movement]) -> int:
    """SQLite virtual-machine steps (in hundreds) of reading ``txs``' history."""
    with vm_steps(engine) as ticks, engine.connect() as conn:
        Histories(conn, txs, reach(RULES))
    return ticks[0]


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated compliance database on SQLite whatever the suite's backend."""
    url = f"sqlite:///{tmp_path / 'compliance.db'}"
    upgrade(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


@pytest.mark.sqlite_only("counts SQLite's virtual-machine steps (the PostgreSQL plans are its own)")
def test_a_batch_reads_the_same_whatever_the_months_history(sqlite_engine: Engine) -> None:
    """On SQLite a batch's history costs the same database work for a client with 3,000
    movements in the month as for one with 30 (the rows near window edges are found by one
    index range per edge, the rest by two totals rows per gap)."""
    engine = sqlite_engine
    steps = []
    for n in (30, 3_000):
        client = f"c-{uuid.uuid4().hex}"
        with engine.begin() as conn:
            totals.store(conn, [_row(Movement(f"s{i}-{client}", client, "deposit", "USDC", 10**6,
                                              1, T0 - timedelta(seconds=37 + 2_592_000 * i // n)))
                                for i in range(n)], reach(RULES).bands)
        steps.append(_vm_steps(engine, [Movement(f"t{i}-{client}", client, "transfer_out",
                                                 "USDC", 10**6, 1, T0) for i in range(5)]))
    assert steps[1] <= steps[0] + 5, steps
