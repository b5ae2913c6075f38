"""Buys the inventory cannot cover, against the local issuer (a real process minting real USDC on
the fork) and ATLAS: issuer delay (processing, escalation after 24 h, then delivery) and issuer
failure (the client's USD comes back); the keeper itself depositing the minted coins from the
issuance address (its own HSM key, "eth-issuance", without any vault role) into the vault, so
the follower credits the inventory."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_account import Account

from keeper.assets import USDC as USDC_ASSET
from keeper.chain import Follower, FollowerConfig, SenderConfig, TxSender, VaultWithdrawals
from keeper.chain.events import DEPOSIT
from keeper.chain.revert import call_revert_reason
from keeper.chain.withdrawals import WITHDRAW
from keeper.flows import HOT_KEY, INVENTORY_CLIENT, ISSUANCE_KEY
from keeper.flows.store import load
from keeper.keys import Keyring
from keeper.roles import VaultRole
from scripts import deployments as dep
from strongroom_testkit import mine

pytestmark = pytest.mark.fork
USDC = 10**6


def drive(world: Any, w3: Any, client: str, order_id: str, until: set[str]) -> Any:
    """Mine and resume until the order reaches one of ``until``."""
    for _ in range(300):
        world.service.resume()
        order = world.service.get(client, order_id)
        if order.state in until:
            return order
        mine(w3)
        time.sleep(0.1)
    raise AssertionError(f"order stuck in {order.state}")


def test_issuer_delay_processing_escalation_then_delivery(world: Any, issuer_with: Any,
                                                           usdc: Any, w3: Any) -> None:
    issuer = issuer_with("--mint-delay", "hold")
    issuance = Account.create().address
    svc = world.make_service(issuer=issuer.client, inventory_address=issuance)
    world.service = svc
    c = world.client(200_000_00)
    world.stock(50_000 * USDC)  # the spec's scenario: 50K in the omnibus, 100K wanted
    order = svc.buy(c, "USDC", 100_000_00, idempotency_key="k")
    assert order.state == "minting"  # the client sees "processing"
    assert world.fiat(c) == 200_000_00 - 100_250_00 and world.held(c) == 0
    assert world.bank.issuer_reserves("USDC") == 100_000_00  # fiat sent to the issuer
    world.clock.now += timedelta(seconds=world.settings.mint_escalate_after_s + 1)
    svc.resume()
    svc.resume()
    alerts = [a for a in world.ledger.alerts() if a[0] == "flows.mint_delayed"]
    assert len(alerts) == 1 and order.id in alerts[0][1]
    with world.engine.connect() as conn:
        mint_id = load(conn, order.id)[1]["mint_id"]
    assert issuer.admin("POST", f"/admin/mints/{mint_id}/release").status_code == 200
    order = drive(world, w3, c, order.id, {"minted"})
    assert usdc.balanceOf(issuance) == 100_000 * USDC  # minted once, to the issuance address
    world.stock(100_000 * USDC)  # the issuance address's vault deposit, as the follower credits it
    order = drive(world, w3, c, order.id, {"completed"})
    assert world.held(c) == 100_000 * USDC and world.held(INVENTORY_CLIENT) == 50_000 * USDC
    assert usdc.balanceOf(issuance) == 100_000 * USDC  # no second mint on any retry
    world.sound()


def test_issuer_failure_refunds_the_client(world: Any, issuer_with: Any, w3: Any) -> None:
    issuer = issuer_with("--mint-fail-rate", "1")
    svc = world.make_service(issuer=issuer.client, inventory_address=Account.create().address)
    world.service = svc
    c = world.client(20_000_00)
    order = svc.buy(c, "USDC", 10_000_00, idempotency_key="k")
    order = drive(world, w3, c, order.id, {"refunded"})
    assert "could not mint" in (order.reason or "") or "refused" in (order.reason or "")
    assert world.fiat(c) == 20_000_00 and world.held(c) == 0
    assert world.bank.issuer_reserves("USDC") == 0
    assert world.ledger.verify_invariants() == []
    run, breaks = world.type2()
    assert breaks == []  # the debit was reversed exactly: fee not kept, no undelivered leg



def test_minted_inventory_lands_on_the_issuance_key_which_only_deposits_it(
        world: Any, issuer_with: Any, usdc: Any, w3: Any, project: Any, accounts: Any,
        chain: Any, hot_ring: Keyring) -> None:
    """Least privilege: the issuer mints to the HSM key "eth-issuance", which holds no vault
    role and only approves and deposits the minted coins (the keeper sends them); "eth-hot"
    keeps the CUSTOMER role for withdrawals and sends nothing for a mint."""
    vault, _ = dep.deploy_open_vault(project, accounts[0], accounts[2])
    hot, issuance = hot_ring.eth_address(HOT_KEY), hot_ring.eth_address(ISSUANCE_KEY)
    assert hot != issuance
    vault.setRoles(hot, VaultRole.CUSTOMER, sender=accounts[0])
    for key in (hot, issuance):
        chain.provider.set_balance(key, 10**21)
    config = SenderConfig(max_fee_wei=300 * 10**9, bump_after_s=60)
    sender = TxSender(world.engine, w3, hot_ring, HOT_KEY, config)
    minting = TxSender(world.engine, w3, hot_ring, ISSUANCE_KEY, config)
    follower = Follower(w3, world.ledger, FollowerConfig(
        vault=vault.address, tokens={USDC_ASSET.address: "USDC"}, confirmations=1,
        start_block=w3.eth.block_number))
    issuer = issuer_with()
    svc = world.make_service(issuer=issuer.client,
                             sender=VaultWithdrawals(sender, vault.address, issuance=minting),
                             inventory_address=issuance)
    world.service = svc
    hot_nonce = w3.eth.get_transaction_count(hot)
    c = world.client(200_000_00)
    order = svc.buy(c, "USDC", 100_000_00, idempotency_key="k")
    assert order.state == "minting" and world.held(INVENTORY_CLIENT) == 0
    for _ in range(300):  # what the keeper's jobs do: follow, send, resume
        mine(w3)
        sender.tick()
        follower.run_until_synced()
        svc.resume()
        order = svc.get(c, order.id)
        if order.state in ("completed", "refunding", "refunded"):
            break
        time.sleep(0.1)
    assert order.state == "completed"
    assert world.held(c) == 100_000 * USDC and world.held(INVENTORY_CLIENT) == 0
    assert usdc.balanceOf(vault.address) == 100_000 * USDC and usdc.balanceOf(issuance) == 0
    deposits = w3.eth.get_logs({"address": vault.address, "fromBlock": 0, "toBlock": "latest",
                                "topics": [DEPOSIT]})
    assert len(deposits) == 1 and "0x" + bytes(deposits[0]["topics"][2])[-20:].hex() == \
        issuance.lower()  # deposited by the issuance key
    assert w3.eth.get_transaction_count(hot) == hot_nonce  # the hot key sent nothing
    assert vault.roles(issuance) == 0 and vault.roles(hot) == VaultRole.CUSTOMER
    call = {"from": issuance, "to": vault.address, "data": "0x" + (WITHDRAW + abi_encode(
        ["address", "address", "uint256", "bytes32"],
        [USDC_ASSET.address, issuance, 1, b"\x01" * 32])).hex()}
    assert call_revert_reason(w3, call, "latest") == "Vault: not customer"
    svc.resume()  # nothing deposited twice
    assert usdc.balanceOf(vault.address) == 100_000 * USDC
    assert world.ledger.verify_invariants() == []
