"""VaultWithdrawals on the fork: the SoftHSM "eth-hot" key holds CUSTOMER on a fresh vault; paid,
queued, refused before sending (with a stable code) and reverted on chain (reason recorded)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector as selector
from sqlalchemy import create_engine, text
from test_sender_fork import hot_ring, later, make_sender, sender_db, settled_tick

from keeper.assets import ETH_ADDRESS, USDC
from keeper.chain import IntentConflictError, VaultWithdrawals, WithdrawalRefusedError
from keeper.roles import VaultRole
from strongroom_testkit.anvil import mine, set_next_timestamp

GWEI = 10**9
SHARED_FIXTURES = (hot_ring, make_sender, sender_db)  # from the sender tests


def op() -> bytes:
    return os.urandom(32)


@pytest.fixture
def hot_vault(vault: Any, who: Any, hot_ring: Any, chain: Any, fund_usd: Any) -> Any:
    """The follower's fresh open vault with the HSM hot key as CUSTOMER, holding ETH and USDC."""
    vault.setRoles(hot_ring.eth_address("eth-hot"), VaultRole.CUSTOMER, sender=who.admin)
    chain.provider.set_balance(vault.address, 10 * 10**18)
    fund_usd(vault.address, 10**12)
    return vault


@pytest.fixture
def payer(make_sender: Any, hot_vault: Any) -> VaultWithdrawals:
    return VaultWithdrawals(make_sender(), hot_vault.address)


@pytest.fixture
def manual_mining(payer: VaultWithdrawals, w3: Any) -> Any:
    """Blocks mined only on request, once the vault and the payer are set up."""
    w3.provider.make_request("evm_setAutomine", [False])
    yield payer
    w3.provider.make_request("evm_setAutomine", [True])


def nonce_of(w3: Any, address: str) -> int:
    return int(w3.eth.get_transaction_count(address, "pending"))


def assert_nothing_sent(payer: VaultWithdrawals, w3: Any, nonce_before: int, op_id: bytes) -> None:
    assert nonce_of(w3, payer.sender.address) == nonce_before
    assert payer.sender.status(payer.intent_id(op_id)) is None
    assert payer.outcome(op_id).status == "unknown"
    engine = create_engine(payer.sender.engine.url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM chain_intents")).scalar() == 0
    engine.dispose()


def test_eth_and_usdc_paid(payer, who, w3, usdc):
    eth_before = w3.eth.get_balance(who.dest.address)
    usdc_before = usdc.balanceOf(who.dest.address)
    eth_op, usdc_op = op(), op()
    payer.submit(eth_op, ETH_ADDRESS, who.dest.address, 10**18)
    payer.submit(usdc_op, USDC.address, who.dest.address, 2_500_000)
    assert payer.submit(eth_op, ETH_ADDRESS, who.dest.address, 10**18).status in (
        "pending", "paid")  # idempotent on op_id: nothing sent twice
    settled_tick(payer.sender)
    eth, usd = payer.outcome(eth_op), payer.outcome(usdc_op)
    assert (eth.status, eth.amount, eth.received) == ("paid", 10**18, 10**18)
    assert (usd.status, usd.amount, usd.received) == ("paid", 2_500_000, 2_500_000)
    assert w3.eth.get_balance(who.dest.address) - eth_before == 10**18
    assert usdc.balanceOf(who.dest.address) - usdc_before == 2_500_000
    assert len(eth.tx_hashes) == 1 and eth.mined_hash == eth.tx_hashes[0]


def test_an_op_id_reused_with_other_content_is_refused(payer, who, w3):
    op_id = op()
    first = payer.submit(op_id, ETH_ADDRESS, who.dest.address, 10**17)
    before = nonce_of(w3, payer.sender.address)
    with pytest.raises(IntentConflictError):
        payer.submit(op_id, ETH_ADDRESS, who.dest.address, 2 * 10**17)
    with pytest.raises(IntentConflictError):
        payer.submit(op_id, ETH_ADDRESS, who.attacker.address, 10**17)
    assert nonce_of(w3, payer.sender.address) == before
    assert payer.outcome(op_id).tx_hashes == first.tx_hashes
    for bad in (b"\0" * 32, b"short", "0x" + "ab" * 31):
        with pytest.raises(ValueError):
            payer.submit(bad, ETH_ADDRESS, who.dest.address, 1)
    for amount in (0, -1, 1.0, True):
        with pytest.raises(ValueError):
            payer.submit(op(), ETH_ADDRESS, who.dest.address, amount)
    with pytest.raises(ValueError):
        payer.submit(op(), ETH_ADDRESS, "0xnot-an-address", 1)
    assert nonce_of(w3, payer.sender.address) == before


def test_above_the_queue_threshold_is_queued_then_executed_after_its_eta(payer, hot_vault, who, w3, usdc):
    hot_vault.setTokenConfig(USDC.address, True, 2**128, 1_000_000, 2**128, sender=who.admin)
    before = usdc.balanceOf(who.dest.address)
    op_id = op()
    payer.submit(op_id, USDC.address, who.dest.address, 5_000_000)
    settled_tick(payer.sender)
    out = payer.outcome(op_id)
    block = w3.eth.get_block(w3.eth.get_transaction_receipt(out.mined_hash)["blockNumber"])
    assert (out.status, out.amount) == ("queued", 5_000_000)
    assert out.eta == block["timestamp"] + hot_vault.WITHDRAWAL_DELAY()
    assert usdc.balanceOf(who.dest.address) == before
    nonce = nonce_of(w3, payer.sender.address)
    with pytest.raises(WithdrawalRefusedError) as early:
        payer.execute(op_id)  # before the eta: refused, nothing sent
    assert early.value.code == "not_ready" and nonce_of(w3, payer.sender.address) == nonce
    assert payer.outcome(op_id).status == "queued"
    set_next_timestamp(w3, out.eta)
    mine(w3)
    payer.execute(op_id)
    settled_tick(payer.sender)
    paid = payer.outcome(op_id)
    assert (paid.status, paid.amount, paid.received, paid.eta) == (
        "paid", 5_000_000, 5_000_000, out.eta)
    assert len(paid.tx_hashes) == 2 and paid.mined_hash == paid.tx_hashes[1]
    assert usdc.balanceOf(who.dest.address) - before == 5_000_000
    assert payer.execute(op_id).status == "paid"  # idempotent: nothing sent again
    assert nonce_of(w3, payer.sender.address) == nonce + 1


def _blacklist(accounts: Any, chain: Any, usdc: Any, address: str) -> None:
    chain.provider.set_balance(usdc.blacklister(), 10**20)
    usdc.blacklist(address, sender=accounts[usdc.blacklister()])


def _refused(payer: VaultWithdrawals, w3: Any, token: str, to: str, amount: int) -> str:
    before, op_id = nonce_of(w3, payer.sender.address), op()
    with pytest.raises(WithdrawalRefusedError) as refused:
        payer.submit(op_id, token, to, amount)
    assert_nothing_sent(payer, w3, before, op_id)
    return refused.value.code


def test_destination_not_whitelisted_refused(payer, who, w3):
    assert _refused(payer, w3, USDC.address, who.attacker.address, 1) == \
        "destination_not_whitelisted"


def test_usdc_blacklisted_destination_refused(payer, who, w3, usdc, accounts, chain):
    _blacklist(accounts, chain, usdc, who.dest.address)
    assert _refused(payer, w3, USDC.address, who.dest.address, 1_000_000) == \
        "blacklisted_destination"


def test_paused_token_refused(payer, who, w3, usdc, accounts, chain):
    chain.provider.set_balance(usdc.pauser(), 10**20)
    usdc.pause(sender=accounts[usdc.pauser()])
    assert _refused(payer, w3, USDC.address, who.dest.address, 1_000_000) == "token_paused"


def test_paused_vault_refused(payer, hot_vault, who, w3):
    hot_vault.pause(sender=who.admin)
    assert _refused(payer, w3, ETH_ADDRESS, who.dest.address, 1) == "vault_paused"


def test_above_tx_cap_and_daily_limit_refused(payer, hot_vault, who, w3):
    hot_vault.setTokenConfig(USDC.address, True, 1_000_000, 1_000_000, 2**128,
                             sender=who.admin)
    assert _refused(payer, w3, USDC.address, who.dest.address, 1_000_001) == "above_tx_cap"
    hot_vault.setUsdLimits(500_000, 2**200, sender=who.admin)  # $0.50 a day (micro-USD)
    assert _refused(payer, w3, USDC.address, who.dest.address, 600_000) == "limit_reached"


@pytest.mark.parametrize("change", ["blacklist", "pause"])
def test_a_state_change_between_simulation_and_mining_reverts_with_the_reason(
        change, payer, who, w3, usdc, manual_mining):
    op_id = op()
    sent = payer.submit(op_id, USDC.address, who.dest.address, 1_000_000)
    assert sent.status == "pending"
    # the token role's transaction pays a higher tip, so it is mined first in the same block
    if change == "blacklist":
        actor = usdc.blacklister()
        data = selector("blacklist(address)") + abi_encode(["address"], [who.dest.address])
        code, reason = "blacklisted_destination", "Blacklistable: account is blacklisted"
    else:
        actor, data = usdc.pauser(), selector("pause()")
        code, reason = "token_paused", "Pausable: paused"
    w3.provider.make_request("anvil_impersonateAccount", [actor])
    w3.provider.make_request("anvil_setBalance", [actor, hex(10**20)])
    w3.provider.make_request("eth_sendTransaction", [{
        "from": actor, "to": USDC.address, "data": "0x" + data.hex(), "gas": hex(100_000),
        "maxPriorityFeePerGas": hex(100 * GWEI), "maxFeePerGas": hex(1000 * GWEI)}])
    mine(w3)
    assert usdc.isBlacklisted(who.dest.address) if change == "blacklist" else usdc.paused()
    [done] = payer.sender.tick()
    assert done.state == "reverted"
    out = payer.outcome(op_id)
    assert (out.status, out.code, out.reason) == ("reverted", code, reason)
    assert w3.eth.get_transaction_receipt(out.mined_hash)["status"] == 0


def test_congested_withdrawal_is_delayed_then_paid_by_the_replacement(
        payer, who, w3, manual_mining):
    before = w3.eth.get_balance(who.dest.address)
    op_id = op()
    payer.submit(op_id, ETH_ADDRESS, who.dest.address, 3 * 10**17)
    assert payer.outcome(op_id).status == "pending"
    payer.sender.tick(later())
    delayed = payer.outcome(op_id)
    assert delayed.status == "delayed" and len(delayed.tx_hashes) == 2
    mine(w3)
    payer.sender.tick()
    paid = payer.outcome(op_id)
    assert paid.status == "paid" and paid.mined_hash == delayed.tx_hashes[1]
    assert w3.eth.get_balance(who.dest.address) - before == 3 * 10**17
