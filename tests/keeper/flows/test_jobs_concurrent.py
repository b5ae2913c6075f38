"""Concurrent API writers: buys from many threads on one database never fail with
"database is locked" (the order service's write transactions take the write lock first)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from keeper.flows import INVENTORY_CLIENT, fee_cents

USDC = 10**6
World = Any


def test_concurrent_buys_from_threads_all_complete(world: World) -> None:
    buyers = [world.client(10_000_00) for _ in range(6)]
    world.stock(1_000 * USDC)
    per_buyer = 4

    def buy(cid: str) -> list[str]:
        return [world.service.buy(cid, "USDC", 10_00, idempotency_key=f"{cid}:{n}").state
                for n in range(per_buyer)]

    with ThreadPoolExecutor(len(buyers)) as pool:
        states = [s for got in pool.map(buy, buyers) for s in got]  # an error re-raises here
    assert states == ["completed"] * (len(buyers) * per_buyer)
    for cid in buyers:
        assert world.held(cid) == per_buyer * 10 * USDC
        assert world.fiat(cid) == 10_000_00 - per_buyer * (10_00 + fee_cents(10_00, 25))
    assert world.held(INVENTORY_CLIENT) == (1_000 - 10 * per_buyer * len(buyers)) * USDC
    world.sound()


def test_concurrent_mixed_orders_from_threads_never_fail_on_the_lock(world: World) -> None:
    """Buys, sells and on-us transfers of several clients at once: every one is answered
    (completed), none fails on SQLite's write lock, and the books balance."""
    people = [world.client(10_000_00) for _ in range(4)]
    world.stock(1_000 * USDC)
    for cid in people:
        world.deposit(cid, 100 * USDC)

    def work(n: int) -> list[str]:
        me, peer = people[n], people[(n + 1) % len(people)]
        out = []
        for k in range(3):
            out.append(world.service.buy(me, "USDC", 5_00, idempotency_key=f"b{k}").state)
            out.append(world.service.sell(me, "USDC", 2 * USDC, idempotency_key=f"s{k}").state)
            out.append(world.service.transfer(me, peer, "USDC", 1 * USDC,
                                              idempotency_key=f"t{k}").state)
        return out

    with ThreadPoolExecutor(len(people)) as pool:
        states = [s for got in pool.map(work, range(len(people))) for s in got]
    assert states == ["completed"] * (9 * len(people))
    for cid in people:  # +5 bought, -2 sold, -1 sent, +1 received, three times
        assert world.held(cid) == (100 + 3 * (5 - 2 - 1 + 1)) * USDC
    world.sound()
