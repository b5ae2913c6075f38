"""A client's withdrawal order sent while the chain is congested (acceptance of issue 12,
"congestion (replacement transaction mined)").

Blocks are mined only on request and every block's base fee is pushed above what the first
transaction offers, so it is never included. The sender tick (the ``chain_sender_tick`` job)
replaces it with a higher fee under ``withdrawal_max_fee_gwei``; the order driver
(``flows_resume``) tells the client of the delay; the replacement is mined: one nonce, one
payment, the order completed, the books balanced and type 2 reconciled. With the base fee above
the ceiling the order stays ``sent`` with one ``tx_stuck`` alert and no fee above the ceiling,
until the congestion clears."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from keeper import notifications
from keeper.chain import SenderConfig
from keeper.chain.events import WITHDRAWAL
from keeper.chain.models import ChainAttempt
from keeper.flows.withdrawals import op_id
from keeper.notifications.models import OutboxRow
from strongroom_testkit.anvil import mine

pytestmark = pytest.mark.fork
UNIT = 10**6
GWEI = 10**9
BUMP_AFTER = 60
CEILING = 300 * GWEI


@pytest.fixture
def congested(w3: Any) -> Iterator[None]:
    """Blocks only on request (each one with the base fee the test sets)."""
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        yield
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
        w3.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(GWEI)])
        mine(w3)


def block_at(w3: Any, base_fee: int) -> None:
    """Mine one block whose base fee is ``base_fee`` (wei per gas)."""
    w3.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(base_fee)])
    mine(w3)


def jobs_pass(w: Any, now: datetime) -> None:
    """What ``chain_sender_tick`` then ``flows_resume`` do, with the sender's clock at ``now``."""
    w.payer.sender.tick(now)
    w.service.settle_queued()
    w.service.resume()


def notices(w: Any, client: str) -> list[tuple[str, dict[str, Any]]]:
    o = OutboxRow.__table__.c
    with w.engine.connect() as conn:
        rows = conn.execute(select(o.event, o.payload).where(o.client_id == client)
                            .order_by(o.id)).all()
    return [(e, json.loads(p)) for e, p in rows]


def paid_events(w3: Any, vault: str, order_id: str) -> int:
    logs = w3.eth.get_logs({"address": vault, "fromBlock": 0, "toBlock": "latest",
                            "topics": [WITHDRAWAL, op_id(order_id)]})
    return len(logs)


def fees_sent(w: Any, order_id: str) -> list[int]:
    """maxFeePerGas and tip of every transaction signed for the order's withdrawal."""
    a = ChainAttempt.__table__.c
    intent = w.payer.intent_id(bytes.fromhex(op_id(order_id)[2:]))
    with w.engine.connect() as conn:
        rows = conn.execute(select(a.max_fee, a.tip).where(a.intent_id == intent)).all()
    return [int(m) for m, _ in rows] + [int(t) for _, t in rows]


def test_congested_withdrawal_is_replaced_mined_once_and_the_client_told(
        chain_world: Any, w3: Any, usdc: Any, congested: None) -> None:
    w = chain_world
    w.use_sender(SenderConfig(max_fee_wei=CEILING, bump_after_s=BUMP_AFTER))
    c = w.client()
    w.deposit(c, 1_000 * UNIT)
    hot = w.payer.sender.address
    nonce0, before = w3.eth.get_transaction_count(hot), usdc.balanceOf(w.dest)
    order = w.service.withdraw(c, "USDC", w.dest, 400 * UNIT, idempotency_key="cw")
    assert order.state == "sent"
    first = w.payer.sender.status(w.payer.intent_id(bytes.fromhex(op_id(order.id)[2:])))
    congestion = first.max_fee_wei + GWEI  # the first offer is below every block's base fee
    assert congestion * 4 < CEILING
    now = datetime.now(UTC)
    for _ in range(3):  # blocks pass, the transaction waits; nothing bumped before its time
        block_at(w3, congestion)
        jobs_pass(w, now)
    assert w.service.get(c, order.id).state == "sent"
    assert w.payer.sender.status(first.intent_id).hashes == first.hashes
    assert usdc.balanceOf(w.dest) == before

    now += timedelta(seconds=BUMP_AFTER + 1)
    jobs_pass(w, now)  # the replacement goes out; the driver sees the delay
    bumped = w.payer.sender.status(first.intent_id)
    assert len(bumped.hashes) == 2 and bumped.nonce == first.nonce
    assert congestion < bumped.max_fee_wei <= CEILING
    delayed = w.service.get(c, order.id)
    assert delayed.state == "sent" and "congestion" in (delayed.reason or "")
    told = [p for e, p in notices(w, c) if e == notifications.WITHDRAWAL_DELAYED]
    assert len(told) == 1 and told[0]["order_id"] == order.id
    jobs_pass(w, now)  # told once only
    assert len([e for e, _ in notices(w, c) if e == notifications.WITHDRAWAL_DELAYED]) == 1

    block_at(w3, congestion)  # still congested: the replacement pays enough and is mined
    for _ in range(3):
        jobs_pass(w, now)
    done = w.service.get(c, order.id)
    assert done.state == "completed" and not done.reason  # the delay is over: no stale reason
    final = w.payer.sender.status(first.intent_id)
    assert final.state == "mined" and final.mined_hash == bumped.hashes[1]
    assert w3.eth.get_transaction_count(hot) == nonce0 + 1  # one nonce
    assert usdc.balanceOf(w.dest) - before == 400 * UNIT  # one payment
    assert paid_events(w3, w.vault_contract.address, order.id) == 1
    assert max(fees_sent(w, order.id)) <= CEILING
    assert [e for e, _ in notices(w, c)][-1] == notifications.ORDER_COMPLETED
    trail = [str(body) for body in w.audit_ops() if order.id in str(body)]
    assert any("congestion" in a for a in trail) and any("completed" in a for a in trail)
    w.sound()


def test_at_the_fee_ceiling_the_order_stays_sent_with_one_alert(
        chain_world: Any, w3: Any, usdc: Any, congested: None) -> None:
    w = chain_world
    base = int(w3.eth.get_block("latest")["baseFeePerGas"])
    ceiling = 4 * base + 4 * GWEI  # room for a bump or two, not for the congestion below
    w.use_sender(SenderConfig(max_fee_wei=ceiling, bump_after_s=BUMP_AFTER))
    c = w.client()
    w.deposit(c, 1_000 * UNIT)
    before = usdc.balanceOf(w.dest)
    order = w.service.withdraw(c, "USDC", w.dest, 100 * UNIT, idempotency_key="cc")
    now = datetime.now(UTC)
    for _ in range(6):  # base fee above the ceiling: bumps up to it, then stuck
        block_at(w3, ceiling + GWEI)
        now += timedelta(seconds=BUMP_AFTER + 1)
        jobs_pass(w, now)
    stuck = [a for a in w.ledger.alerts() if a[0] == "tx_stuck"]
    assert len(stuck) == 1 and op_id(order.id)[2:] in stuck[0][1]
    assert max(fees_sent(w, order.id)) <= ceiling  # never a fee above the ceiling
    assert w.service.get(c, order.id).state == "sent"
    assert usdc.balanceOf(w.dest) == before
    assert [e for e, _ in notices(w, c)].count(notifications.WITHDRAWAL_DELAYED) == 1
    bal = w.ledger.balance(w.ledger.client_account(c, "USDC"))
    assert (bal.credit_balance, bal.available) == (1_000 * UNIT, 900 * UNIT)  # still held

    # the congestion clears; the node had evicted the underpriced transaction (anvil never
    # includes one it skipped): the sender's next pass broadcasts its stored bytes again
    sent = w.payer.sender.status(w.payer.intent_id(bytes.fromhex(op_id(order.id)[2:])))
    for tx_hash in sent.hashes:
        w3.provider.make_request("anvil_dropTransaction", [tx_hash])
    block_at(w3, ceiling // 2)
    jobs_pass(w, now)
    block_at(w3, ceiling // 2)  # the last offer is mined, once
    for _ in range(3):
        jobs_pass(w, now)
    assert w.service.get(c, order.id).state == "completed"
    assert usdc.balanceOf(w.dest) - before == 100 * UNIT
    assert paid_events(w3, w.vault_contract.address, order.id) == 1
    w.sound()
