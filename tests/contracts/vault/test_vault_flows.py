"""Vault happy paths: deposits, withdrawals, queue, limits, pause, sweeps, migration."""

from __future__ import annotations

import ape
import pytest

from scripts.deployments import ETH

DAY = 86400
USD = 10**6
ETHER = 10**18


def op(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _next_day(chain) -> None:
    chain.mine(timestamp=(chain.pending_timestamp // DAY + 1) * DAY + 60)


def test_deposit_eth_emits_fixed_event(vault, who, chain):
    ref = b"\xaa" * 32
    tx = vault.depositEth(ref, value=5 * ETHER, sender=who.depositor)
    assert chain.provider.get_balance(vault.address) == 5 * ETHER
    [ev] = tx.events.filter(vault.Deposit)
    assert ev.token == ETH and ev.sender == who.depositor.address
    assert bytes(ev.client_ref) == ref and ev.amount == 5 * ETHER


def test_deposit_usdc_credits_balance_delta(vault, who, usdc_t):
    usdc_t.approve(vault.address, 1234 * USD, sender=who.depositor)
    tx = vault.deposit(usdc_t.address, 1234 * USD, b"\x01" * 32, sender=who.depositor)
    [ev] = tx.events.filter(vault.Deposit)
    assert ev.amount == 1234 * USD == usdc_t.balanceOf(vault.address)


def test_deposit_usdt_with_fee_credits_delta(vault, who, usdt_t):
    usdt_t.setParams(10, 5, sender=who.deployer)  # 0.1 %, max 5 USDT
    usdt_t.approve(vault.address, 1000 * USD, sender=who.depositor)
    tx = vault.deposit(usdt_t.address, 1000 * USD, b"\x03" * 32, sender=who.depositor)
    [ev] = tx.events.filter(vault.Deposit)
    assert ev.amount == 999 * USD  # 1 USDT fee
    assert usdt_t.balanceOf(vault.address) == 999 * USD


def test_small_withdrawal_pays_immediately(funded_vault, who, chain):
    v = funded_vault
    before = chain.provider.get_balance(who.dest.address)
    tx = v.withdraw(ETH, who.dest.address, 3 * ETHER, op(1), sender=who.customer)
    assert chain.provider.get_balance(who.dest.address) - before == 3 * ETHER
    [ev] = tx.events.filter(v.Withdrawal)
    assert bytes(ev.op_id) == op(1) and ev.to == who.dest.address and ev.amount == 3 * ETHER
    assert v.operations(op(1)).status == 2
    assert v.instantUsed(ETH) == 3 * ETHER
    assert v.outflowUsd() == 3 * 2_000 * USD  # valued at the 2,000 USD test price


def test_usdt_withdrawal_without_return_value(funded_vault, who, usdt_t):
    v = funded_vault
    usdt_t.setParams(10, 5, sender=who.deployer)
    vault_before = usdt_t.balanceOf(v.address)
    v.withdraw(usdt_t.address, who.dest.address, 2000 * USD, op(2), sender=who.customer)
    assert vault_before - usdt_t.balanceOf(v.address) == 2000 * USD
    assert usdt_t.balanceOf(who.dest.address) == 1998 * USD  # the token's fee
    assert v.outflowUsd() == 2000 * USD  # what left the vault counts


def test_large_withdrawal_is_queued_then_executed(funded_vault, who, usdc_t, chain):
    v = funded_vault
    tx = v.withdraw(usdc_t.address, who.dest.address, 60_000 * USD, op(3), sender=who.customer)
    [q] = tx.events.filter(v.WithdrawalQueued)
    assert q.amount == 60_000 * USD and q.eta == tx.timestamp + DAY
    assert not tx.events.filter(v.Withdrawal)
    assert usdc_t.balanceOf(who.dest.address) == 0
    chain.mine(timestamp=q.eta - 5)
    with ape.reverts("Vault: withdrawal not ready"):
        v.executeWithdrawal(op(3), sender=who.customer)
    chain.mine(timestamp=q.eta)
    tx = v.executeWithdrawal(op(3), sender=who.customer)
    assert usdc_t.balanceOf(who.dest.address) == 60_000 * USD
    [ev] = tx.events.filter(v.Withdrawal)
    assert bytes(ev.op_id) == op(3)
    with ape.reverts("Vault: not queued"):
        v.executeWithdrawal(op(3), sender=who.customer)


def test_compliance_cancels_queued_withdrawal(funded_vault, who, usdc_t, chain):
    v = funded_vault
    v.withdraw(usdc_t.address, who.dest.address, 60_000 * USD, op(4), sender=who.customer)
    tx = v.cancelWithdrawal(op(4), sender=who.compliance)
    assert tx.events.filter(v.WithdrawalCancelled)
    chain.mine(timestamp=chain.pending_timestamp + DAY + 1)
    with ape.reverts("Vault: not queued"):
        v.executeWithdrawal(op(4), sender=who.customer)
    assert usdc_t.balanceOf(who.dest.address) == 0


def test_queued_withdrawal_expires(funded_vault, who, usdc_t, chain):
    v = funded_vault
    v.withdraw(usdc_t.address, who.dest.address, 60_000 * USD, op(5), sender=who.customer)
    chain.mine(timestamp=chain.pending_timestamp + 8 * DAY + 10)
    with ape.reverts("Vault: withdrawal expired"):
        v.executeWithdrawal(op(5), sender=who.customer)


def test_usd_limit_frees_up_after_the_rolling_window(funded_vault, who, chain):
    v = funded_vault
    v.setUsdLimits(100_000 * USD, 10**30, sender=who.admin)  # 50 ETH at 2,000 USD
    for i in range(5):
        v.withdraw(ETH, who.dest.address, 10 * ETHER, op(100 + i), sender=who.customer)
    assert v.remainingUsd() == 0
    with ape.reverts("Vault: daily limit exceeded"):
        v.withdraw(ETH, who.dest.address, 1, op(200), sender=who.customer)
    _next_day(chain)
    _next_day(chain)
    v.withdraw(ETH, who.dest.address, 1, op(200), sender=who.customer)
    assert v.outflowUsd() == 1  # 1 wei is worth 1 micro-USD once rounded up


def test_sweeps_to_tiers(funded_vault, who, usdc_t):
    v = funded_vault
    tx = v.sweep(usdc_t.address, 100_000 * USD, 1, sender=who.treasury)
    [ev] = tx.events.filter(v.Sweep)
    assert ev.to == who.warm.address and ev.tier == 1 and ev.amount == 100_000 * USD
    v.sweep(usdc_t.address, 200_000 * USD, 2, sender=who.treasury)
    assert usdc_t.balanceOf(who.cold.address) == 200_000 * USD
    assert v.outflowUsd() == 100_000 * USD  # warm sweeps count toward the limit
    assert v.coldSweptUsd() == 200_000 * USD  # cold sweeps have their own budget


def test_pause_stops_everything_and_expires_after_7_days(funded_vault, who, usdc_t, chain):
    v = funded_vault
    tx = v.pause(sender=who.pauser)
    [ev] = tx.events.filter(v.Paused)
    assert ev.until == tx.timestamp + 7 * DAY and v.isPaused()
    with ape.reverts("Vault: paused"):
        v.withdraw(ETH, who.dest.address, ETHER, op(6), sender=who.customer)
    with ape.reverts("Vault: paused"):
        v.depositEth(b"\x00" * 32, value=1, sender=who.depositor)
    with ape.reverts("Vault: paused"):
        v.sweep(ETH, ETHER, 1, sender=who.treasury)
    chain.mine(timestamp=ev.until - 2)
    assert v.isPaused()
    chain.mine(timestamp=ev.until)
    assert not v.isPaused() and v.pausedUntil() == 0
    v.withdraw(ETH, who.dest.address, ETHER, op(6), sender=who.customer)


def test_admin_unpauses_early(funded_vault, who):
    v = funded_vault
    v.pause(sender=who.pauser)
    tx = v.unpause(sender=who.admin)
    assert tx.events.filter(v.Unpaused) and not v.isPaused()
    v.withdraw(ETH, who.dest.address, ETHER, op(7), sender=who.customer)


def test_whitelist_activation_delay_applies_to_vault(funded_vault, whitelist, who, chain):
    v = funded_vault
    whitelist.add(who.pending.address, sender=who.compliance)
    with ape.reverts("Vault: destination not whitelisted"):
        v.withdraw(ETH, who.pending.address, ETHER, op(8), sender=who.customer)
    chain.mine(timestamp=chain.pending_timestamp + DAY)
    v.withdraw(ETH, who.pending.address, ETHER, op(8), sender=who.customer)
    whitelist.remove(who.pending.address, sender=who.compliance)
    with ape.reverts("Vault: destination not whitelisted"):
        v.withdraw(ETH, who.pending.address, ETHER, op(9), sender=who.customer)


def test_queued_withdrawal_rechecks_whitelist(funded_vault, whitelist, who, usdc_t, chain):
    v = funded_vault
    v.withdraw(usdc_t.address, who.dest.address, 60_000 * USD, op(10), sender=who.customer)
    whitelist.remove(who.dest.address, sender=who.compliance)
    chain.mine(timestamp=chain.pending_timestamp + DAY + 1)
    with ape.reverts("Vault: destination not whitelisted"):
        v.executeWithdrawal(op(10), sender=who.customer)


def test_migration_moves_everything(project, funded_vault, whitelist, who, usdc_t, usdt_t, chain):
    old = funded_vault
    new = project.Vault.deploy(who.admin, whitelist.address, old.address,
                               sender=who.deployer)
    whitelist.add(new.address, sender=who.compliance)
    with ape.reverts("Vault: destination not whitelisted"):
        old.migrate(new.address, [usdc_t.address, usdt_t.address], sender=who.admin)
    chain.mine(timestamp=chain.pending_timestamp + DAY)
    balances = (chain.provider.get_balance(old.address), usdc_t.balanceOf(old.address),
                usdt_t.balanceOf(old.address))
    tx = old.migrate(new.address, [usdc_t.address, usdt_t.address], sender=who.admin)
    assert len(tx.events.filter(old.Migrated)) == 3
    assert (chain.provider.get_balance(new.address), usdc_t.balanceOf(new.address),
            usdt_t.balanceOf(new.address)) == balances
    assert chain.provider.get_balance(old.address) == usdc_t.balanceOf(old.address) == 0
    assert old.migrated_to() == new.address
    with ape.reverts("Vault: migrated"):
        old.depositEth(b"\x00" * 32, value=1, sender=who.depositor)
    with ape.reverts("Vault: migrated"):
        old.withdraw(ETH, who.dest.address, 1, op(11), sender=who.customer)


@pytest.mark.parametrize("role_name", ["customer", "treasury"])
def test_treasury_and_customer_may_withdraw(funded_vault, who, role_name):
    funded_vault.withdraw(ETH, who.dest.address, ETHER, op(12), sender=getattr(who, role_name))
    assert funded_vault.operations(op(12)).status == 2
