"""The rebalancing run on a real database (SQLite and PostgreSQL) with every schema migrated and
the real audit chain: the plan is recorded and audited before anything moves, planned once per
run key (a restart hands the same moves under the same keys), a failing executor leaves the move
to retry, stale moves expire, the cooldown holds an asset whose moves may not show yet, a refusal
alerts with the binding constraint, dry run records only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from keeper.audit import verify_trail
from keeper.ledger.db import make_engine
from keeper.treasury.moves import Holding, Move, TierTarget
from keeper.treasury.rebalance import CostModel, Rebalancer
from strongroom_testkit.dbtemplate import migrate_fresh

TARGETS = {"USDC": [TierTarget("hot", 500), TierTarget("warm", 1500), TierTarget("cold", 8000)]}
COSTS = CostModel(prices_cents={"ETH": 300_000})
T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


class KeyedExecutor:
    """A MoveExecutor that keeps one reference per idempotency key and can refuse the first
    ``fail`` calls (the executor boundary: what the runner records about it is under test)."""

    def __init__(self, fail: int = 0) -> None:
        self.calls: list[tuple[str, Move]] = []
        self.refs: dict[str, str] = {}
        self.fail = fail

    def execute(self, move: Move, *, idempotency_key: str) -> str:
        self.calls.append((idempotency_key, move))
        if self.fail:
            self.fail -= 1
            raise ConnectionError("signer service unreachable")
        return self.refs.setdefault(idempotency_key, f"ref-{len(self.refs) + 1}")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def engine(database):
    url = database("rebalance")  # SQLite, and PostgreSQL (marker postgres)
    migrate_fresh(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


def estate(hot: int, warm: int = 1_500, cold: int = 7_500, hot_min: int = 0) -> list[Holding]:
    return [Holding("USDC", "vault", "hot", hot, hot_min), Holding("USDC", "warm", "warm", warm),
            Holding("USDC", "cold", "cold", cold)]


def make(engine, holdings, executor=None, **kw):
    clock, alerts = Clock(), []
    state = {"holdings": holdings}
    r = Rebalancer(engine, lambda: state["holdings"], TARGETS, COSTS, executor, clock=clock,
                   alert=lambda kind, msg, ref: alerts.append((kind, msg, ref)), **kw)
    return r, clock, alerts, state


def audit_ops(engine) -> list[str]:
    with engine.connect() as conn:
        bodies = conn.execute(text("SELECT body FROM audit_records ORDER BY seq")).scalars()
        return [json.loads(b)["record"]["operation"] for b in bodies]


def test_hands_each_move_over_once_per_key_and_records_the_reference(engine):
    ex = KeyedExecutor()
    r, *_ = make(engine, estate(1_000), ex)
    out = r.run("2026-11-23")
    assert [(m.move.source, m.move.destination, m.move.units, m.status, m.reference)
            for m in out.moves] == [("vault", "cold", 450, "sent", "ref-1")]
    assert [k for k, _ in ex.calls] == ["rebalance:2026-11-23:USDC:0"]
    again = r.run("2026-11-23")  # a restart of the same slot
    assert again.plan is None and again.moves == out.moves and len(ex.calls) == 1
    assert audit_ops(engine) == ["treasury.rebalance.planned", "treasury.rebalance.sent"]
    assert verify_trail(engine).ok


def test_a_failing_executor_leaves_the_move_planned_and_the_same_key_retries_it(engine):
    ex = KeyedExecutor(fail=1)
    r, _, alerts, _ = make(engine, estate(1_000), ex)
    out = r.run("k1")
    assert [(m.status, m.error) for m in out.failed] == [
        ("planned", "ConnectionError: signer service unreachable")]
    assert [(kind, ref) for kind, _, ref in alerts] == [
        ("treasury_rebalance_failed", "rebalance:k1:USDC:0")]
    out = r.run("k1")
    assert out.failed == [] and out.moves[0].status == "sent"
    assert [k for k, _ in ex.calls] == ["rebalance:k1:USDC:0"] * 2  # same key, same amount
    assert {m.units for _, m in ex.calls} == {450}
    assert audit_ops(engine) == ["treasury.rebalance.planned", "treasury.rebalance.failed",
                                 "treasury.rebalance.sent"]


def test_cooldown_holds_an_asset_then_a_new_key_expires_stale_moves_and_replans(engine):
    ex = KeyedExecutor(fail=1)
    r, clock, _, state = make(engine, estate(1_000), ex)
    assert r.run("k1").failed  # planned, never handed over
    clock.now = T0 + timedelta(hours=1)  # the holdings still show the drift
    held = r.run("k2")
    assert held.moves == () and held.plan is not None
    (d,) = held.plan.decisions
    assert d.action == "hold" and d.binding is not None and d.binding.kind == "cooldown"
    clock.now = T0 + timedelta(hours=21)
    state["holdings"] = estate(900, cold=7_600)  # flows moved things meanwhile
    out = r.run("k3")
    assert [(m.move.units, m.status) for m in out.moves] == [(350, "sent")]
    with engine.connect() as conn:
        statuses = dict(conn.execute(text(
            "SELECT idempotency_key, status FROM treasury_rebalance_moves")).all())
    assert statuses == {"rebalance:k1:USDC:0": "expired", "rebalance:k3:USDC:0": "sent"}
    assert "treasury.rebalance.expired" in audit_ops(engine)
    assert r.last_decisions()["USDC"]["run_key"] == "k3"


def test_a_refusal_alerts_naming_the_binding_and_moves_nothing(engine):
    ex = KeyedExecutor()
    r, _, alerts, _ = make(engine, estate(1_000, hot_min=900), ex)
    out = r.run("k1")
    assert out.moves == () and ex.calls == []
    (kind, message, ref), = alerts
    assert kind == "treasury_rebalance_refused" and ref == "k1:USDC"
    assert "wallet_minimum" in message and "vault" in message and "needs 450" in message
    last = r.last_decisions()["USDC"]
    assert last["action"] == "refused" and last["binding"]["available_units"] == "100"


def test_dry_run_and_no_executor_record_and_audit_only(engine):
    ex = KeyedExecutor()
    for i, (executor, dry) in enumerate([(ex, True), (None, False)]):
        r, *_ = make(engine, estate(1_000), executor, dry_run=dry)
        out = r.run(f"dry{i}")
        assert out.dry_run and [m.status for m in out.moves] == ["dry_run"]
    assert ex.calls == []
    assert audit_ops(engine) == ["treasury.rebalance.planned"] * 2
    live, *_ = make(engine, estate(1_000), ex)  # a dry run moved nothing: no cooldown after it
    assert [m.status for m in live.run("live").moves] == ["sent"]


def test_a_move_out_of_cold_is_recorded_as_proposed_not_sent(engine):
    ex = KeyedExecutor()
    r, *_ = make(engine, estate(0, 1_500, 8_500), ex)
    (m,) = r.run("k1").moves
    assert (m.move.source_tier, m.move.destination_tier, m.requires_quorum) == ("cold", "hot", True)
    assert (m.status, m.reference) == ("proposed", "ref-1")
    assert audit_ops(engine) == ["treasury.rebalance.planned", "treasury.rebalance.proposed"]


def test_cli_prints_each_assets_last_decision(engine, monkeypatch, capsys):
    from keeper.treasury.rebalance.__main__ import main

    r, *_ = make(engine, estate(1_000), KeyedExecutor())
    r.run("k1")
    monkeypatch.setenv("STRONGROOM_DB_URL", engine.url.render_as_string(hide_password=False))
    assert main(["decisions"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"USDC"}
    assert printed["USDC"]["run_key"] == "k1" and printed["USDC"]["action"] == "rebalance"
    assert [m["units"] for m in printed["USDC"]["moves"]] == ["450"]


def test_a_dry_run_leaves_a_live_runs_unsent_moves_alone(engine):
    ex = KeyedExecutor(fail=1)
    live, clock, _, _ = make(engine, estate(1_000), ex)
    assert live.run("k1").failed
    dry, *_ = make(engine, estate(1_000), None, cooldown=timedelta(0))  # a dry run between
    assert [m.status for m in dry.run("k2").moves] == ["dry_run"]
    out = live.run("k1")  # the live slot's retry still hands its move over
    assert [m.status for m in out.moves] == ["sent"] and len(ex.calls) == 2
