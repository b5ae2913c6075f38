"""The outbox: enqueue commits and rolls back with the caller's transaction, idempotent by id."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, func, select, text

from keeper.notifications import DEPOSIT_CREDITED, ORDER_COMPLETED, EventConflict, enqueue
from keeper.notifications.models import OutboxRow

_O = OutboxRow.__table__


def _rows(engine: Engine) -> list[tuple[str, str, str, dict]]:
    with engine.connect() as conn:
        return [(r.event_id, r.client_id, r.event, json.loads(r.payload))
                for r in conn.execute(select(_O).order_by(_O.c.id))]


def test_enqueue_commits_with_the_callers_transaction(engine: Engine) -> None:
    with engine.begin() as conn:
        assert enqueue(conn, "client-a", DEPOSIT_CREDITED, {"amount": "1000", "asset": "ETH"},
                       event_id="dep:1")
    assert _rows(engine) == [("dep:1", "client-a", DEPOSIT_CREDITED,
                              {"amount": "1000", "asset": "ETH"})]


def test_enqueue_rolls_back_with_the_callers_transaction(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        enqueue(conn, "client-a", ORDER_COMPLETED, {"order": "o1"}, event_id="order:o1")
        raise RuntimeError("the flow failed after enqueueing")
    assert _rows(engine) == []


def test_enqueue_is_idempotent_and_keeps_the_callers_transaction_usable(engine: Engine) -> None:
    with engine.begin() as conn:
        assert enqueue(conn, "client-a", ORDER_COMPLETED, {"order": "o1"}, event_id="order:o1")
    with engine.begin() as conn:
        assert not enqueue(conn, "client-a", ORDER_COMPLETED, {"order": "o1"},
                           event_id="order:o1")
        # the duplicate did not abort the transaction (PostgreSQL would refuse this otherwise)
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    assert len(_rows(engine)) == 1


@pytest.mark.parametrize("other", [
    {"client_id": "client-b"}, {"event": DEPOSIT_CREDITED}, {"payload": {"order": "o2"}}])
def test_reused_event_id_with_other_content_is_refused(engine: Engine, other: dict) -> None:
    base = {"client_id": "client-a", "event": ORDER_COMPLETED, "payload": {"order": "o1"}}
    with engine.begin() as conn:
        enqueue(conn, base["client_id"], base["event"], base["payload"], event_id="order:o1")
    changed = base | other
    with pytest.raises(EventConflict), engine.begin() as conn:
        enqueue(conn, changed["client_id"], changed["event"], changed["payload"],
                event_id="order:o1")
    assert _rows(engine) == [("order:o1", "client-a", ORDER_COMPLETED, {"order": "o1"})]


@pytest.mark.parametrize(("event", "payload", "event_id"), [
    ("deposit.stolen", {"a": "1"}, "x"),
    (DEPOSIT_CREDITED, {"amount": 1.5}, "x"),
    (DEPOSIT_CREDITED, {"nested": [{"amount": 0.1}]}, "x"),
    (DEPOSIT_CREDITED, {"when": object()}, "x"),
    (DEPOSIT_CREDITED, ["not", "an", "object"], "x"),
    (DEPOSIT_CREDITED, {"big": "x" * 20_000}, "x"),
    (DEPOSIT_CREDITED, {"a": "1"}, ""),
    (DEPOSIT_CREDITED, {"a": "1"}, "dep:1\r\nX-Forged: yes"),  # would become a header
    (DEPOSIT_CREDITED, {"a": "1"}, "dep 1"),
    (DEPOSIT_CREDITED, {"a": "1"}, "dep:\t1"),
    (DEPOSIT_CREDITED, {"a": "1"}, "dep:\x7f"),
    (DEPOSIT_CREDITED, {"a": "1"}, "d\u00e9p:1"),  # printable, not ASCII
    (DEPOSIT_CREDITED, {"a": 1.5, "b": "x"}, "x"),  # a float beside strings
])
def test_hostile_enqueues_are_refused_and_write_nothing(engine: Engine, event: str,
                                                        payload: object, event_id: str) -> None:
    with pytest.raises(ValueError), engine.begin() as conn:
        enqueue(conn, "client-a", event, payload, event_id=event_id)  # type: ignore[arg-type]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(_O)).scalar_one() == 0


def test_enqueue_many_inserts_the_new_skips_the_known_and_refuses_a_changed_one(
        engine: Engine) -> None:
    from keeper.notifications import Notice, enqueue_many

    def n(i: int, order: str | None = None) -> Notice:
        return Notice(f"client-{i % 3}", ORDER_COMPLETED, {"order": order or f"o{i}"}, f"ev:{i}")

    with engine.begin() as conn:
        assert enqueue_many(conn, [n(i) for i in range(1200)]) == 1200  # three chunks
    with engine.begin() as conn:
        assert enqueue_many(conn, [n(i) for i in range(1195, 1210)]) == 10  # 5 already there
        assert conn.execute(text("SELECT 1")).scalar_one() == 1  # transaction still usable
    with pytest.raises(EventConflict), engine.begin() as conn:
        enqueue_many(conn, [n(5000), n(7, order="changed")])
    with pytest.raises(EventConflict), engine.begin() as conn:
        enqueue_many(conn, [n(6000), n(6000)])
    with pytest.raises(ValueError), engine.begin() as conn:
        enqueue_many(conn, [n(7000), Notice("c", "no.such.event", {}, "ev:x")])
    rows = _rows(engine)
    assert len(rows) == 1210 and {r[0] for r in rows} == {f"ev:{i}" for i in range(1210)}
    assert rows[7] == ("ev:7", "client-1", ORDER_COMPLETED, {"order": "o7"})
