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
