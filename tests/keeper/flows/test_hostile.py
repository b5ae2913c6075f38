"""Hostile requests are refused with a code and change nothing: floats, booleans, negative or
enormous amounts, wrong types, unknown assets and clients; and a tripped circuit breaker."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from keeper.flows import Refused, TransferItem
from keeper.flows.models import OrderRow
from keeper.recon import BreakBook, Finding

USDC = 10**6
BAD_AMOUNTS = [1.5, True, -1, 0, 2**256, "100", None, 10**6 + 0.0]


def nothing_moved(world: Any, c: str, fiat: int, held: int) -> None:
    assert world.fiat(c) == fiat and world.held(c) == held
    with world.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(OrderRow)
                            .where(OrderRow.state != "refused")).scalar_one() == 0


def test_hostile_amounts_assets_and_parties_are_refused(world: Any) -> None:
    c, other = world.client(10_000_00), world.client()
    world.deposit(c, 1_000 * USDC)
    world.stock(1_000 * USDC)
    svc = world.service
    for bad in BAD_AMOUNTS:
        for call in (lambda b=bad: svc.buy(c, "USDC", b, idempotency_key="k"),
                     lambda b=bad: svc.sell(c, "USDC", b, idempotency_key="k"),
                     lambda b=bad: svc.transfer(c, other, "USDC", b, idempotency_key="k")):
            with pytest.raises(Refused) as exc:
                call()
            assert exc.value.code in ("invalid_amount", "invalid_request"), (bad, exc.value)
    for asset in ("DOGE", "", None, 7, "usdc\x00", "ETH"):
        with pytest.raises(Refused):
            svc.buy(c, asset, 100, idempotency_key="a")  # type: ignore[arg-type]
    with pytest.raises(Refused):
        svc.transfer(c, c, "USDC", 1, idempotency_key="self")
    with pytest.raises(Refused) as exc:
        svc.transfer(c, "no-such-client", "USDC", 1, idempotency_key="ghost")
    assert exc.value.code == "unknown_client"
    with pytest.raises(Refused) as exc:
        svc.transfer_batch(c, [], idempotency_key="empty")
    assert exc.value.code == "invalid_batch"
    with pytest.raises(Refused) as exc:
        svc.buy("no-such-client", "USDC", 100, idempotency_key="x")
    assert exc.value.code == "unknown_client"
    with pytest.raises(Refused) as exc:
        svc.withdraw(c, "USDC", "0x" + "12" * 20, 1, idempotency_key="w")
    assert exc.value.code == "unavailable"  # no vault sender configured
    nothing_moved(world, c, 10_000_00, 1_000 * USDC)
    assert world.held(other) == 0
    world.sound()


def test_tripped_breaker_refuses_every_flow(world: Any) -> None:
    c, other = world.client(10_000_00), world.client()
    world.deposit(c, 1_000 * USDC)
    world.stock(1_000 * USDC)
    book = BreakBook(world.engine, resolvers=["treasury"])
    book.record("t3-critical", 3, 1, {}, [Finding("reserves", "USDC", "USDC", 1, 0,
                                                  "1:1 backing not proven", critical=True)])
    for call in (lambda: world.service.buy(c, "USDC", 100_00, idempotency_key="b"),
                 lambda: world.service.sell(c, "USDC", 10 * USDC, idempotency_key="s"),
                 lambda: world.service.transfer_batch(c, [TransferItem(other, "USDC", USDC)],
                                                      idempotency_key="t")):
        with pytest.raises(Refused) as exc:
            call()
        assert exc.value.code == "halted"
    nothing_moved(world, c, 10_000_00, 1_000 * USDC)
    assert world.ledger.verify_invariants() == []


def test_issuer_events_naming_no_order_change_nothing(world: Any) -> None:
    # a signed issuer event is trusted to be the issuer's, not its reference to be well formed:
    # PostgreSQL refuses NUL in text, so "ord_\x00" used to be a 500 on the webhook
    c = world.client(10_000_00)
    for ref in ("ord_\x00", "ord_" + "a" * 500, "ord_", "x" * 40, None, 7, "ord_nope"):
        assert world.service.on_issuer_event({"reference": ref, "status": "complete"}) == 0
    nothing_moved(world, c, 10_000_00, 0)
    world.sound()
