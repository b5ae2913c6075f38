"""Withdrawal orders and end-of-day redemptions on the fork: a fresh vault whose CUSTOMER is the
SoftHSM "eth-hot" key, the chain sender, the local issuer and real USDC. Paid (the hold kept for
the follower to settle), queued above the instant budget, a refused destination releasing the
hold with the reason, a risky destination blocked before anything is held; a sell redeemed at
end of day while the bank fronts the fiat, escalated when the issuer's payout is late."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_account import Account

from keeper.assets import ETH_ADDRESS, USDC, USDT
from keeper.chain.withdrawals import WITHDRAW
from keeper.flows import INVENTORY_CLIENT, Refused
from keeper.flows.store import load
from keeper.flows.withdrawals import op_id
from keeper.keys import Keyring

pytestmark = pytest.mark.fork
UNIT = 10**6
MIXER = "0x" + "66" * 20



def held(world: Any, client: str) -> tuple[int, int]:
    b = world.ledger.balance(world.ledger.client_account(client, "USDC"))
    return b.credit_balance, b.available


def drive(world: Any, client: str, oid: str, until: set[str]) -> Any:
    for _ in range(30):
        world.payer.w3.provider.make_request("anvil_mine", ["0x1"])
        world.payer.sender.tick()
        world.service.resume()
        order = world.service.get(client, oid)
        if order.state in until:
            return order
    raise AssertionError(f"stuck in {order.state}")


def test_withdrawal_paid_keeps_the_hold_for_the_follower(chain_world: Any, usdc: Any) -> None:
    w = chain_world
    c = w.client()
    w.deposit(c, 1_000 * UNIT)
    before = usdc.balanceOf(w.dest)
    order = w.service.withdraw(c, "USDC", w.dest, 400 * UNIT, idempotency_key="w1")
    order = drive(w, c, order.id, {"completed"})
    assert usdc.balanceOf(w.dest) - before == 400 * UNIT
    assert held(w, c) == (1_000 * UNIT, 600 * UNIT)  # held until the follower settles it
    assert w.ledger.open_withdrawal_hold_id(op_id(order.id)) is not None
    again = w.service.withdraw(c, "USDC", w.dest, 400 * UNIT, idempotency_key="w1")
    assert again.id == order.id and usdc.balanceOf(w.dest) - before == 400 * UNIT
    assert w.ledger.verify_invariants() == []


def test_withdrawal_above_the_instant_budget_is_queued(chain_world: Any) -> None:
    w = chain_world
    for token in (ETH_ADDRESS, USDC.address, USDT.address):
        w.vault_contract.setTokenConfig(token, True, 2**128, 100 * UNIT, 2**128, sender=w.admin)
    c = w.client()
    w.deposit(c, 1_000 * UNIT)
    order = w.service.withdraw(c, "USDC", w.dest, 500 * UNIT, idempotency_key="q")
    order = drive(w, c, order.id, {"queued"})
    assert held(w, c) == (1_000 * UNIT, 500 * UNIT)


def queue_everything(w: Any) -> None:
    """Every withdrawal above 100 tokens waits in the vault's 24 h queue."""
    for token in (ETH_ADDRESS, USDC.address, USDT.address):
        w.vault_contract.setTokenConfig(token, True, 2**128, 100 * UNIT, 2**128, sender=w.admin)


def settle(w: Any, client: str, oid: str, until: set[str]) -> Any:
    """What the ``chain_sender_tick`` and ``flows_resume`` jobs do, block after block."""
    for _ in range(30):
        w.payer.w3.provider.make_request("anvil_mine", ["0x1"])
        w.payer.sender.tick()
        w.service.settle_queued()
        w.service.resume()
        order = w.service.get(client, oid)
        if order.state in until:
            return order
    raise AssertionError(f"stuck in {order.state}")


def test_queued_withdrawal_is_paid_after_its_eta(chain_world: Any, usdc: Any, w3: Any) -> None:
    w = chain_world
    queue_everything(w)
    c = w.client()
    w.deposit(c, 1_000 * UNIT)
    before = usdc.balanceOf(w.dest)
    order = drive(w, c, w.service.withdraw(c, "USDC", w.dest, 500 * UNIT,
                                           idempotency_key="q").id, {"queued"})
    assert w.service.settle_queued() == 0  # before its eta: nothing sent, still queued
    assert w.service.get(c, order.id).state == "queued"
    assert w.payer.sender.status(w.payer.intent_id(bytes.fromhex(op_id(order.id)[2:]),
                                                   "execute")) is None
    w3.provider.make_request("evm_increaseTime", [86_400 + 60])
    order = settle(w, c, order.id, {"completed", "failed"})
    assert order.state == "completed"
    assert usdc.balanceOf(w.dest) - before == 500 * UNIT
    assert held(w, c) == (1_000 * UNIT, 500 * UNIT)  # the follower settles the hold
    assert w.service.settle_queued() == 0 and usdc.balanceOf(w.dest) - before == 500 * UNIT
    assert w.ledger.verify_invariants() == []


def test_queued_withdrawal_refused_at_execution_releases_the_hold(
        chain_world: Any, usdc: Any, w3: Any) -> None:
    w = chain_world
    queue_everything(w)
    c = w.client()
    w.deposit(c, 1_000 * UNIT)
    before = usdc.balanceOf(w.dest)
    order = drive(w, c, w.service.withdraw(c, "USDC", w.dest, 500 * UNIT,
                                           idempotency_key="q").id, {"queued"})
    w.whitelist.remove(w.dest, sender=w.officer)  # delisted while it waited
    w3.provider.make_request("evm_increaseTime", [86_400 + 60])
    order = settle(w, c, order.id, {"completed", "failed"})
    assert order.state == "failed" and (order.reason or "").startswith(
        "destination_not_whitelisted")
    assert held(w, c) == (1_000 * UNIT, 1_000 * UNIT)  # the hold is released
    assert w.ledger.open_withdrawal_hold_id(op_id(order.id)) is None
    assert usdc.balanceOf(w.dest) == before
    assert w.ledger.verify_invariants() == []


def take_the_nonce(w: Any, w3: Any, ring: Keyring, order_id: str, *, same_call: bool) -> None:
    """Drop the withdrawal's pending transaction and mine another one on its nonce: a plain
    transfer, or (``same_call``) the same vault call with other gas, e.g. sent by hand."""
    sent = w.payer.sender.status(w.payer.intent_id(bytes.fromhex(op_id(order_id)[2:])))
    for h in sent.hashes:
        w3.provider.make_request("anvil_dropTransaction", [h])
    op = bytes.fromhex(op_id(order_id)[2:])
    call = {"to": w.vault_contract.address, "gas": 300_000,
            "data": WITHDRAW + abi_encode(["address", "address", "uint256", "bytes32"],
                                          [USDC.address, w.dest, 100 * UNIT, op])}
    other = call if same_call else {"to": w.dest, "gas": 21_000, "data": b"", "value": 1}
    w3.eth.send_raw_transaction(ring.sign_eip1559("eth-hot", {
        "chainId": w3.eth.chain_id, "nonce": sent.nonce, "maxPriorityFeePerGas": 10**9,
        "maxFeePerGas": 300 * 10**9, "value": 0, **other}))


@pytest.mark.parametrize("same_call", [False, True], ids=["dropped", "unknown"])
def test_a_withdrawal_whose_nonce_was_taken(chain_world: Any, usdc: Any, w3: Any,
                                            hot_ring: Keyring, same_call: bool) -> None:
    """The hot key's nonce is used by another transaction before the withdrawal is mined. The
    vault never saw the op id: the order fails ``dropped`` and the coins are free. The vault
    did see it (paid by a transaction we did not send): ops get one alert, the hold stays."""
    w = chain_world
    c = w.client()
    w.deposit(c, 1_000 * UNIT)
    before = usdc.balanceOf(w.dest)
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        order = w.service.withdraw(c, "USDC", w.dest, 100 * UNIT, idempotency_key="d")
        assert order.state == "sent"
        take_the_nonce(w, w3, hot_ring, order.id, same_call=same_call)
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    if not same_call:
        order = drive(w, c, order.id, {"completed", "failed"})
        assert order.state == "failed" and (order.reason or "").startswith("dropped")
        assert held(w, c) == (1_000 * UNIT, 1_000 * UNIT)
        assert w.ledger.open_withdrawal_hold_id(op_id(order.id)) is None
        assert usdc.balanceOf(w.dest) == before
    else:
        for _ in range(5):
            drive_once(w)
        alerts = [a for a in w.ledger.alerts() if a[0] == "flows.withdrawal_unknown"]
        assert len(alerts) == 1 and order.id in alerts[0][1]
        assert w.service.get(c, order.id).state == "sent"  # left to ops and the follower
        assert held(w, c) == (1_000 * UNIT, 900 * UNIT)
        assert usdc.balanceOf(w.dest) - before == 100 * UNIT
    assert w.ledger.verify_invariants() == []


def drive_once(w: Any) -> None:
    w.payer.w3.provider.make_request("anvil_mine", ["0x1"])
    w.payer.sender.tick()
    w.service.resume()


def test_refused_destination_releases_the_hold_with_the_reason(chain_world: Any,
                                                                usdc: Any) -> None:
    w = chain_world
    c = w.client()
    w.deposit(c, 1_000 * UNIT)
    stranger = Account.create().address  # not whitelisted
    order = w.service.withdraw(c, "USDC", stranger, 100 * UNIT, idempotency_key="x")
    assert order.state == "failed" and (order.reason or "").startswith("destination_not_whitelisted")
    assert held(w, c) == (1_000 * UNIT, 1_000 * UNIT)
    assert w.ledger.open_withdrawal_hold_id(op_id(order.id)) is None
    assert usdc.balanceOf(stranger) == 0
    assert w.ledger.verify_invariants() == []


def test_risky_destination_is_blocked_before_anything_is_held(chain_world: Any) -> None:
    w = chain_world
    c = w.client()
    w.deposit(c, 1_000 * UNIT)
    with pytest.raises(Refused) as exc:
        w.service.withdraw(c, "USDC", MIXER, 100 * UNIT, idempotency_key="m")
    assert exc.value.code == "compliance_block"
    assert held(w, c) == (1_000 * UNIT, 1_000 * UNIT)
    with pytest.raises(Refused) as exc:  # the client is now frozen and suspended
        w.service.withdraw(c, "USDC", w.dest, 1 * UNIT, idempotency_key="after")
    assert exc.value.code == "account_inactive"


def test_sell_redeemed_at_eod_the_bank_fronts_until_the_issuer_pays(
        chain_world: Any, issuer_with: Any, usdc: Any, w3: Any) -> None:
    w = chain_world
    issuer = issuer_with("--burn-settle-delay", "hold")
    w.whitelist.add(issuer.address, sender=w.officer)
    w3.provider.make_request("evm_increaseTime", [2])
    w3.provider.make_request("anvil_mine", ["0x1"])
    w.service = w.make_service(sender=w.payer, issuer=issuer.client)
    w.bank.fund_reserves(str(uuid.uuid4()), "USDC", 1_000_00, "reserves of earlier mints")
    c = w.client()
    w.deposit(c, 1_000 * UNIT)
    sale = w.service.sell(c, "USDC", 400 * UNIT, idempotency_key="s")
    assert sale.state == "completed" and w.fiat(c) == 400_00 - 1_00  # fronted at once
    supply = usdc.totalSupply()
    [burn] = w.service.run_eod_burns("2026-11-23")
    assert w.service.run_eod_burns("2026-11-23") == []  # nothing redeemed twice
    burn = drive(w, INVENTORY_CLIENT, burn.id, {"burning"})
    for _ in range(100):
        if usdc.totalSupply() == supply - 400 * UNIT:
            break
        w3.provider.make_request("anvil_mine", ["0x1"])
        time.sleep(0.1)
    assert usdc.totalSupply() == supply - 400 * UNIT  # burned; the payout is held
    w.clock.now += timedelta(seconds=w.settings.receivable_escalate_after_s + 1)
    w.service.resume()
    w.service.resume()
    overdue = [a for a in w.ledger.alerts() if a[0] == "flows.receivable_overdue"]
    assert len(overdue) == 1 and burn.id in overdue[0][1]
    with w.engine.connect() as conn:
        burn_id = load(conn, burn.id)[1]["burn_id"]
    assert issuer.admin("POST", f"/admin/burns/{burn_id}/release").status_code == 200
    for _ in range(100):
        w3.provider.make_request("anvil_mine", ["0x1"])
        if drive(w, INVENTORY_CLIENT, burn.id, {"burning", "settled"}).state == "settled":
            break
        time.sleep(0.1)
    assert w.service.get(INVENTORY_CLIENT, burn.id).state == "settled"
    assert w.bank.issuer_reserves("USDC") == 1_000_00 - 400_00
    assert w.ledger.verify_invariants() == []
