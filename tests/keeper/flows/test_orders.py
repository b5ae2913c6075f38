"""Buy, sell and on-us transfer orders against a real ATLAS process, on SQLite and PostgreSQL.

After each flow: the ledger's invariants hold and type 2 reconciliation (core banking vs
sub-ledger) passes; the audit trail and the outbox hold every state change."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from keeper import clients
from keeper.compliance.models import ReportRow
from keeper.flows import (
    INVENTORY_CLIENT,
    ComplianceHold,
    IdempotencyConflict,
    OrderNotFound,
    Refused,
    TransferItem,
    UnknownCustomer,
    fee_cents,
)
from keeper.flows.models import OrderRow, OutboxRow
from keeper.flows.store import step_key
from keeper.integrations.corebanking import NotifyDeposit
from keeper.ledger import TransferSpec

USDC = 10**6
World = Any
MIXER = "0x" + "66" * 20  # labelled "mixer" by the world's address risk (conftest)



def orders(world: World) -> int:
    """Orders that got past pre-flight and screening (refused ones are kept, refused)."""
    with world.engine.connect() as c:
        return c.execute(select(func.count()).select_from(OrderRow)
                         .where(OrderRow.state != "refused")).scalar_one()


def test_fee_rule_spec_examples_and_rounding() -> None:
    assert fee_cents(100_000_00, 25) == 250_00  # spec: $100,000 buy -> $250 fee
    assert 50_000_00 - fee_cents(50_000_00, 25) == 49_875_00  # spec: 50,000 USDC -> $49,875
    assert fee_cents(1, 25) == 1  # rounded up: never under the published rate
    assert fee_cents(399, 25) == 1 and fee_cents(401, 25) == 2
    assert fee_cents(0, 25) == 0


def test_buy_from_inventory_is_idempotent_and_reconciles(world: World) -> None:
    c = world.client(200_000_00)
    world.stock(1_000_000 * USDC)
    order = world.service.buy(c, "usdc", 100_000_00, idempotency_key="k1")
    assert (order.state, order.units, order.fee_cents) == ("completed", 100_000 * USDC, 250_00)
    assert world.fiat(c) == 200_000_00 - 100_250_00
    assert world.held(c) == 100_000 * USDC
    assert world.held(INVENTORY_CLIENT) == 900_000 * USDC
    again = world.service.buy(c, "USDC", 100_000_00, idempotency_key="k1")
    assert again.id == order.id and world.fiat(c) == 200_000_00 - 100_250_00
    with pytest.raises(IdempotencyConflict):
        world.service.buy(c, "USDC", 100_001_00, idempotency_key="k1")
    assert world.held(c) == 100_000 * USDC and orders(world) == 1
    with world.engine.connect() as conn:
        events = list(conn.execute(select(OutboxRow.event).where(OutboxRow.order_id == order.id)
                                   .order_by(OutboxRow.id)).scalars())
    assert events == ["order.screening", "order.accepted", "order.paid", "order.completed"]
    trail = [json.loads(b) for b in world.audit_ops()]
    assert sum(order.id in json.dumps(r) and "flows.order" in json.dumps(r) for r in trail) == 4
    assert world.service.get(c, order.id) == world.service.get(c, order.id)
    with pytest.raises(OrderNotFound):
        world.service.get(world.client(), order.id)  # another client's order
    world.sound()


def test_buy_without_enough_fiat_fails_and_moves_no_coins(world: World) -> None:
    c = world.client(1_000_00)
    world.stock(10_000 * USDC)
    order = world.service.buy(c, "USDC", 1_000_00, idempotency_key="k")  # + fee > balance
    assert order.state == "failed" and "insufficient_funds" in (order.reason or "")
    assert world.fiat(c) == 1_000_00 and world.held(c) == 0
    assert world.held(INVENTORY_CLIENT) == 10_000 * USDC
    world.sound()


def test_sell_credits_fiat_net_of_fee_and_reconciles(world: World) -> None:
    c = world.client()
    world.deposit(c, 100_000 * USDC)
    order = world.service.sell(c, "USDC", 50_000 * USDC, idempotency_key="s1")
    assert (order.state, order.fiat_cents, order.fee_cents) == ("completed", 50_000_00, 125_00)
    assert world.fiat(c) == 49_875_00
    assert world.held(c) == 50_000 * USDC and world.held(INVENTORY_CLIENT) == 50_000 * USDC
    assert world.service.sell(c, "USDC", 50_000 * USDC, idempotency_key="s1").id == order.id
    assert world.fiat(c) == 49_875_00
    assert world.service.run_eod_burns() == []  # no sender: the coins stay in inventory
    with pytest.raises(Refused) as exc:
        world.service.sell(c, "USDC", 60_000 * USDC, idempotency_key="s2")
    assert exc.value.code == "insufficient_funds" and orders(world) == 1
    with pytest.raises(Refused) as exc:
        world.service.sell(c, "USDC", 1, idempotency_key="s3")  # a fraction of a cent
    assert exc.value.code == "invalid_amount"
    world.sound()


def test_transfer_and_batch_are_atomic_and_idempotent(world: World) -> None:
    a, b, d = world.client(), world.client(), world.client()
    world.deposit(a, 1_000 * USDC)
    t = world.service.transfer(a, b, "USDC", 400 * USDC, idempotency_key="t1")
    assert t.state == "completed" and world.held(b) == 400 * USDC
    assert world.service.transfer(a, b, "USDC", 400 * USDC, idempotency_key="t1").id == t.id
    with pytest.raises(IdempotencyConflict):
        world.service.transfer(a, b, "USDC", 401 * USDC, idempotency_key="t1")
    items = [TransferItem(b if i % 2 else d, "USDC", 10 * USDC) for i in range(40)]
    done = world.service.transfer_batch(a, items, idempotency_key="batch")
    assert len({o.id for o in done}) == 40 and {o.state for o in done} == {"completed"}
    assert (world.held(a), world.held(b), world.held(d)) == (200 * USDC, 600 * USDC, 200 * USDC)
    assert [o.id for o in world.service.transfer_batch(a, items, idempotency_key="batch")] == \
        [o.id for o in done]
    before = orders(world)
    with pytest.raises(Refused) as exc:  # the last item cannot be paid: none is
        world.service.transfer_batch(a, [TransferItem(b, "USDC", 150 * USDC)] * 2,
                                     idempotency_key="over")
    assert exc.value.code == "insufficient_funds"
    assert (world.held(a), world.held(b), orders(world)) == (200 * USDC, 600 * USDC, before)
    assert any("insufficient_funds" in r and "refused" in r for r in world.audit_ops())
    world.sound()


def test_limits_refuse_without_changing_anything(world: World) -> None:
    c = world.client(2_000_000_00)
    world.stock(2_000_000 * USDC)
    with pytest.raises(Refused) as exc:
        world.service.buy(c, "USDC", 250_000_01, idempotency_key="big")
    assert exc.value.code == "limit_single"
    world.service.buy(c, "USDC", 250_000_00, idempotency_key="b1")
    world.service.buy(c, "USDC", 250_000_00, idempotency_key="b2")
    with pytest.raises(Refused) as exc:
        world.service.buy(c, "USDC", 1_00, idempotency_key="b3")
    assert exc.value.code == "limit_daily"
    assert world.fiat(c) == 2_000_000_00 - 2 * (250_000_00 + 625_00) and orders(world) == 2
    world.clock.now += timedelta(hours=24, seconds=1)  # the window slides
    clients.set_profile(world.engine, c, actor="test", buy_single_limit_cents=300_000_00)
    assert world.service.buy(c, "USDC", 300_000_00, idempotency_key="b4").state == "completed"
    with pytest.raises(Refused) as exc:  # sells: $250K a day
        world.service.sell(c, "USDC", 250_001 * USDC, idempotency_key="s")
    assert exc.value.code == "limit_daily" and orders(world) == 3
    assert sum("limit_" in r and "refused" in r for r in world.audit_ops()) == 3
    world.sound()


def test_inactive_unkyced_or_frozen_clients_are_refused(world: World) -> None:
    c = world.client(10_000_00)
    world.stock(10_000 * USDC)
    clients.suspend_client(world.engine, c, "review", "test")
    with pytest.raises(Refused) as exc:
        world.service.buy(c, "USDC", 10_00, idempotency_key="x")
    assert exc.value.code == "account_inactive"
    stale = world.client(10_000_00, kyc=False)
    with pytest.raises(Refused) as exc:
        world.service.buy(stale, "USDC", 10_00, idempotency_key="x")
    assert exc.value.code == "kyc_expired"
    frozen = world.client(10_000_00)
    world.compliance.freeze("officer", "investigation", client_id=frozen)
    with pytest.raises(Refused) as exc:
        world.service.buy(frozen, "USDC", 10_00, idempotency_key="x")
    assert exc.value.code == "frozen"
    assert orders(world) == 0 and world.fiat(frozen) == 10_000_00
    world.sound()


def test_sanctions_hit_freezes_suspends_drafts_sar_and_issues_nothing(world: World) -> None:
    c = world.client(100_000_00, country="IR")
    world.stock(100_000 * USDC)
    with pytest.raises(Refused) as exc:
        world.service.buy(c, "USDC", 50_000_00, idempotency_key="k")
    assert exc.value.code == "compliance_block"
    assert clients.get_profile(world.engine, c).status == "suspended"
    with pytest.raises(Exception, match="frozen"):
        world.compliance.check_can_move(c)
    with world.engine.connect() as conn:
        sars = conn.execute(select(func.count()).select_from(ReportRow)
                            .where(ReportRow.kind == "SAR", ReportRow.client_id == c)).scalar_one()
    assert sars == 1
    assert world.held(c) == 0 and world.fiat(c) == 100_000_00 and orders(world) == 0
    world.sound()


def test_notify_deposit_is_idempotent_with_distinct_errors(world: World) -> None:
    c = world.client()
    world.stock(10_000 * USDC)
    world.ops.wire_in("6f4f1c1e-8d0a-4d3b-9b1e-2f5d7c9a0b11", c, 10_025_00, "USDC buy")
    notice = NotifyDeposit(customer_id=c, transaction_id="TX-1",
                           amount="1002500", currency="USD", reference="USDC buy",
                           timestamp=world.clock(), source_account="ACC-1")
    first = world.service.notify_deposit(notice)
    second = world.service.notify_deposit(notice)
    assert first.stablecoin_order_id == second.stablecoin_order_id
    order = world.service.get(c, first.stablecoin_order_id or "")
    assert order.state == "completed" and order.fiat_cents + order.fee_cents <= 10_025_00
    assert world.held(c) == order.units and world.fiat(c) == 10_025_00 - order.fiat_cents - order.fee_cents
    assert orders(world) == 1
    with pytest.raises(UnknownCustomer):
        world.service.notify_deposit(notice.model_copy(update={"customer_id": "NOBODY",
                                                               "transaction_id": "TX-2"}))
    world.compliance.freeze("officer", "hold", client_id=c)
    with pytest.raises(ComplianceHold):
        world.service.notify_deposit(notice.model_copy(update={"transaction_id": "TX-3"}))
    assert orders(world) == 1
    world.sound()


def test_short_inventory_without_mint_escalates_once_after_the_deadline(world: World) -> None:
    c = world.client(100_000_00)
    order = world.service.buy(c, "USDC", 1_000_00, idempotency_key="k")
    assert order.state == "paid"  # customer paid; no inventory, no issuer
    world.clock.now += timedelta(seconds=world.settings.mint_escalate_after_s - 1)
    world.service.resume()
    assert not [a for a in world.ledger.alerts() if a[0] == "flows.mint_delayed"]
    world.clock.now += timedelta(seconds=2)
    world.service.resume()
    world.service.resume()
    assert len([a for a in world.ledger.alerts() if a[0] == "flows.mint_delayed"]) == 1
    world.stock(5_000 * USDC)  # inventory arrives: the driver delivers
    world.service.resume()
    assert world.service.get(c, order.id).state == "completed"
    assert world.held(c) == 1_000 * USDC
    world.sound()


def test_step_keys_are_deterministic_uuids() -> None:
    assert step_key("ord_a", "debit") == step_key("ord_a", "debit")
    assert step_key("ord_a", "debit") != step_key("ord_a", "mint")
    assert len(step_key("ord_a", "debit")) == 36


def test_a_sell_of_coins_from_a_tainted_source_is_blocked_and_moves_nothing(world: World) -> None:
    """Spec 5.2 (tainted source on a sell): the client's coins came on chain from a mixer; the
    sell is blocked with a SAR, the client frozen and suspended, coins and fiat untouched."""
    from keeper.chain import deposit_reference

    c, clean = world.client(), world.client()
    for client, sender in ((c, "0x" + "12" * 20), (c, MIXER), (clean, "0x" + "34" * 20)):
        world.ledger.post(TransferSpec(
            f"dep:{uuid.uuid4().hex}", world.ledger.omnibus_account("USDC", f"vault:{world.vault}"),
            world.ledger.client_account(client, "USDC"), 10_000 * USDC, source="vault",
            source_pos=int(uuid.uuid4().int % 10**9),
            reference=deposit_reference(f"block 1 tx 0x{uuid.uuid4().hex} log 0", sender)))
    with pytest.raises(Refused) as exc:
        world.service.sell(c, "USDC", 5_000 * USDC, idempotency_key="s1")
    assert exc.value.code == "compliance_block"
    assert clients.get_profile(world.engine, c).status == "suspended"
    assert world.held(c) == 20_000 * USDC and world.fiat(c) == 0
    order = world.service.sell(clean, "USDC", 5_000 * USDC, idempotency_key="s1")
    assert order.state == "completed"  # a clean source sells as before
    world.sound()
