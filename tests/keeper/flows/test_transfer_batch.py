"""Batched on-us transfers: the bulk order statements (one query per chunk of keys, one insert,
one compare-and-set UPDATE) decide as the per-order ones did, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from keeper.flows import IdempotencyConflict, TransferItem, store
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
    with world.engine.connect() as conn:
        found = store.load_many(conn, [o.id for o in opened])
    loaded = {i: (o.state, v) for i, (o, _, v) in found.items()}
    assert loaded == {opened[0].id: ("completed", 2), opened[1].id: ("refused", 2),
                      opened[2].id: ("completed", 2)}
