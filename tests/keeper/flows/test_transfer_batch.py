"""Batched on-us transfers: the bulk order statements (one query per chunk of keys, one insert,
one compare-and-set UPDATE) decide as the per-order ones did, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import select, text

import keeper.clients as clients
from keeper.audit import guards, verify_trail
from keeper.flows import IdempotencyConflict, Refused, TransferItem, store
from keeper.flows.models import OrderRow
from keeper.flows.store import FlowError

USDC = 10**6
World = Any


def _rows(world: World) -> list[tuple]:
    with world.engine.connect() as c:
        return [tuple(r) for r in c.execute(select(OrderRow.__table__).order_by(OrderRow.id))]


def test_a_longer_retry_completes_only_its_new_items_and_mixed_assets_move(world: World) -> None:
    """A retry under the same key with more items answers the first orders and completes the
    new ones once; USDC and USDT items in one batch each move their own asset (more than one
    chunk of keys)."""
    a, b = world.client(), world.client()
    world.deposit(a, 10_000 * USDC)
    world.deposit(a, 10_000 * USDC, "USDT")
    first = [TransferItem(b, "USDC", 1 * USDC), TransferItem(b, "USDT", 2 * USDC)]
    done = world.service.transfer_batch(a, first, idempotency_key="k")
    more = first + [TransferItem(b, "USDT" if n % 3 else "USDC", 3 * USDC) for n in range(600)]
    again = world.service.transfer_batch(a, more, idempotency_key="k")
    assert [o.id for o in again[:2]] == [o.id for o in done]
    assert len({o.id for o in again}) == 602 and {o.state for o in again} == {"completed"}
    assert world.held(b) == (1 + 200 * 3) * USDC
    assert world.held(b, "USDT") == (2 + 400 * 3) * USDC
    assert world.held(a) + world.held(b) == 10_000 * USDC
    world.sound()


def test_a_changed_item_in_a_retry_is_a_conflict_and_creates_nothing(world: World) -> None:
    a, b = world.client(), world.client()
    world.deposit(a, 100 * USDC)
    items = [TransferItem(b, "USDC", n * USDC) for n in range(1, 4)]
    world.service.transfer_batch(a, items, idempotency_key="k")
    before = _rows(world)
    with pytest.raises(IdempotencyConflict):
        world.service.transfer_batch(a, items[:2] + [TransferItem(b, "USDC", 9 * USDC)],
                                     idempotency_key="k")
    assert _rows(world) == before and world.held(b) == 6 * USDC


def test_bulk_transition_refuses_the_batch_when_one_order_moved(world: World) -> None:
    """Compare-and-set on every order: one that left ``screening`` meanwhile fails the whole
    transition, and the transaction changes nothing."""
    a, b = world.client(), world.client()
    rows = [(f"k:{n}", f"fp{n}", {"kind": "transfer", "asset": "USDC", "units": n + 1,
                                  "fiat_cents": 0, "fee_cents": 0, "data": {"to": b}})
            for n in range(3)]
    now = world.clock()
    with world.engine.begin() as conn:
        trail = store.Trail()
        opened = store.open_many(conn, a, rows, state="screening", now=now, trail=trail)
        store.flush(conn, trail)
        assert store.find_by_keys(conn, a, ["k:0", "k:2", "nope"], ["fp0", "fp2", "x"]) == \
            [opened[0], opened[2], None]
        with pytest.raises(IdempotencyConflict):
            store.find_by_keys(conn, a, ["k:1"], ["other"])
        store.transition(conn, opened[1].id, "screening", "refused", now=now, reason="no")
    before = _rows(world)
    with pytest.raises(FlowError), world.engine.begin() as conn:
        store.transition_many(conn, opened, "screening", "completed", now=now,
                              trail=store.Trail())
    assert _rows(world) == before
    with world.engine.begin() as conn:
        moved = store.transition_many(conn, [opened[0], opened[2]], "screening", "completed",
                                      now=now, trail=store.Trail())
    assert [o.state for o in moved] == ["completed", "completed"]
    with world.engine.begin() as conn:  # no orders: nothing to move, nothing written
        assert store.transition_many(conn, [], "screening", "completed", now=now,
                                     trail=store.Trail()) == []
    with world.engine.connect() as conn:
        found = store.load_many(conn, [o.id for o in opened])
    loaded = {i: (o.state, v) for i, (o, _, v) in found.items()}
    assert loaded == {opened[0].id: ("completed", 2), opened[1].id: ("refused", 2),
                      opened[2].id: ("completed", 2)}


def test_a_batch_is_audited_in_few_records_that_still_prove_each_order(world: World) -> None:
    """The orders of a batch are recorded a few hundred per audit record (not one record per
    order and state change); every order's creation and completion is in them, the trail
    verifies, and rewriting one order inside a batch record is detected at that record."""
    a, b = world.client(), world.client()
    world.deposit(a, 1_000 * USDC)
    orders = world.service.transfer_batch(a, [TransferItem(b, "USDC", n + 1) for n in range(450)],
                                          idempotency_key="k")
    flows = [(seq, json.loads(body)["record"]) for seq, body in _trail(world)
             if '"actor":"flows"' in body]
    assert len(flows) <= 6
    items = [(p["order_id"], p["to"]) for _, r in flows for p in r["params"]["items"]]
    assert sorted(items) == sorted([(o.id, "screening") for o in orders]
                                   + [(o.id, "completed") for o in orders])
    assert verify_trail(world.engine).ok
    seq = flows[-1][0]
    with world.engine.connect() as conn, conn.begin():
        body = conn.execute(text("SELECT body FROM audit_records WHERE seq = :s"),
                            {"s": seq}).scalar_one()
        assert body.count('"units":"') >= 50
        forged = body.replace('"units":"', '"units":"1', 1)
        guards.remove(conn)
        conn.execute(text("UPDATE audit_records SET body = :b WHERE seq = :s"),
                     {"b": forged, "s": seq})
        guards.install(conn)
    report = verify_trail(world.engine)
    assert not report.ok and min(p.seq for p in report.problems if p.seq) == seq


def _trail(world: World) -> list[tuple[int, str]]:
    with world.engine.connect() as c:
        return [(int(s), str(b)) for s, b in
                c.exec_driver_sql("SELECT seq, body FROM audit_records ORDER BY seq")]


def test_a_transfer_left_in_screening_is_completed_by_the_driver_to_its_beneficiary(
        world: World) -> None:
    """A crash after the order rows and before screening: the driver screens each order and
    pays the beneficiary its order names (read from the order, not from a request)."""
    a, b, c = world.client(), world.client(), world.client()
    world.deposit(a, 100 * USDC)
    rows = [(f"k:{n}", f"fp{n}", {"kind": "transfer", "asset": "USDC", "units": (n + 1) * USDC,
                                  "fiat_cents": 0, "fee_cents": 0, "data": {"to": to}})
            for n, to in enumerate([b, c])]
    with world.engine.begin() as conn:
        trail = store.Trail()
        opened = store.open_many(conn, a, rows, state="screening", now=world.clock(),
                                 trail=trail)
        store.flush(conn, trail)
    assert world.service.resume() == 2
    assert [world.service.get(a, o.id).state for o in opened] == ["completed", "completed"]
    assert (world.held(b), world.held(c), world.held(a)) == (1 * USDC, 2 * USDC, 97 * USDC)
    world.sound()


def _race(world: World) -> tuple[str, str, list[TransferItem]]:
    """A funded sender, a beneficiary and the two transfers two requests race with."""
    a, b = world.client(), world.client()
    world.deposit(a, 100 * USDC)
    return a, b, [TransferItem(b, "USDC", 5 * USDC), TransferItem(b, "USDC", 6 * USDC)]


def _answered_once(world: World, a: str, b: str, first: list[Any], other: list[Any]) -> None:
    """The first request answered the other request's orders, completed; money moved once."""
    assert [o.id for o in first] == [o.id for o in other]
    assert {o.state for o in first} == {"completed"}
    assert world.held(b) == 11 * USDC and world.held(a) == 89 * USDC
    world.sound()


def test_the_same_new_key_completed_meanwhile_by_another_request_answers_its_orders(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two requests with the same new key at once (two API workers): the second completes the
    orders while the first is between screening and posting. The first then finds them past
    screening: it answers the same orders (as a replay would) instead of failing with 'no
    longer screening', and the money moved once."""
    a, b, items = _race(world)
    service = world.service
    original = service._complete_transfers
    other: list[Any] = []

    def racing(todo: Any, to: Any = None) -> Any:
        monkeypatch.setattr(service, "_complete_transfers", original)
        other.extend(service.transfer_batch(a, items, idempotency_key="race"))  # wins the race
        return original(todo, to)

    monkeypatch.setattr(service, "_complete_transfers", racing)
    _answered_once(world, a, b, service.transfer_batch(a, items, idempotency_key="race"), other)


def test_the_same_new_key_opened_meanwhile_by_another_request_answers_its_orders(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The orders a request found absent (its one read of the keys) are created by another
    request before it opens them: its insert meets them, it opens them one by one and answers
    the other request's orders; the money moved once."""
    a, b, items = _race(world)
    service = world.service
    original = service._open_screened
    other: list[Any] = []

    def racing(client_id: str, rows: Any, found: Any, *args: Any, **kw: Any) -> Any:
        monkeypatch.setattr(service, "_open_screened", original)
        assert found == [None, None]  # the caller's read, not repeated
        other.extend(service.transfer_batch(a, items, idempotency_key="race-open"))
        return original(client_id, rows, found, *args, **kw)

    monkeypatch.setattr(service, "_open_screened", racing)
    _answered_once(world, a, b, service.transfer_batch(a, items, idempotency_key="race-open"),
                   other)


def test_order_ids_are_unique_and_sort_by_creation_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """``ord_`` and 32 hex digits as before; the creation millisecond leads, so orders (and the
    movements, transfers and events named after them) append to their indexes."""
    ids = {store.new_order_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"ord_[0-9a-f]{32}", i) for i in ids)
    batch = store.new_order_ids(10_000)  # a batch's ids: the random bits read at once
    assert len(set(batch) | ids) == 20_000
    assert all(re.fullmatch(r"ord_[0-9a-f]{32}", i) for i in batch)
    made = []
    for ms in (1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000):
        monkeypatch.setattr(store.time, "time_ns", lambda ms=ms: ms * 1_000_000 + 999_999)
        made += sorted(store.new_order_id() for _ in range(50))
    assert made == sorted(made)
    assert made[0].startswith(f"ord_{1_700_000_000_000:012x}")


def test_a_batch_naming_an_unknown_or_suspended_beneficiary_moves_nothing(world: World) -> None:
    """The beneficiaries are read in one query: an unknown one refuses the batch as
    ``unknown_client``, a suspended one as ``beneficiary_inactive``; nothing moves either way."""
    a, b, c = world.client(), world.client(), world.client()
    world.deposit(a, 100 * USDC)
    clients.suspend_client(world.engine, c, "review", "ops.test")
    for ghost, code in (("no-such-client", "unknown_client"), (c, "beneficiary_inactive")):
        items = [TransferItem(b, "USDC", 1 * USDC), TransferItem(ghost, "USDC", 1 * USDC)]
        with pytest.raises(Refused) as exc:
            world.service.transfer_batch(a, items, idempotency_key=f"k-{code}")
        assert exc.value.code == code
    assert world.held(a) == 100 * USDC and world.held(b) == 0 == world.held(c)
    world.sound()


def test_a_batch_is_opened_and_screened_in_one_transaction(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch's orders, their screens and the audit records of both commit together: a
    failure while screening (here: storing the movements' totals) leaves no order, no movement
    and no record (before, the orders stayed behind in ``screening``); the retry under the same
    key then moves the money once."""
    a, b, items = _race(world)

    def counts() -> tuple[Any, ...]:
        with world.engine.connect() as c:
            return tuple(c.execute(text(f"SELECT count(*) FROM {t}")).scalar()  # noqa: S608
                         for t in ("flows_orders", "flows_outbox", "compliance_movements",
                                   "audit_records"))

    before = counts()

    def broken(*args: Any, **kw: Any) -> None:
        raise RuntimeError("the disk filled up")

    monkeypatch.setattr("keeper.compliance.totals.store", broken)
    with pytest.raises(RuntimeError, match="disk"):
        world.service.transfer_batch(a, items, idempotency_key="k")
    assert counts() == before
    monkeypatch.undo()
    done = world.service.transfer_batch(a, items, idempotency_key="k")
    assert {o.state for o in done} == {"completed"}
    assert world.held(b) == 11 * USDC and world.held(a) == 89 * USDC
    world.sound()
