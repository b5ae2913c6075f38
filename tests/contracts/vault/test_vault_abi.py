"""The ABI the keeper's chain follower depends on: measured `received`, expiry events,
migration only from the recorded predecessor, rescue to the successor, op ids across versions."""

from __future__ import annotations

import ape

from keeper.roles import VaultRole as R
from scripts.deployments import ETH, deploy_open_vault

DAY = 86400
USD = 10**6
ETHER = 10**18
GRACE = 7 * DAY


def op(n: int) -> bytes:
    return n.to_bytes(32, "big")


def test_withdrawal_event_reports_what_the_recipient_received(funded_vault, who, usdt_t, usdc_t):
    v = funded_vault
    usdt_t.setParams(10, 5, sender=who.deployer)  # 0.1 % fee, at most 5 USDT
    tx = v.withdraw(usdt_t.address, who.dest.address, 2000 * USD, op(1), sender=who.customer)
    [ev] = tx.events.filter(v.Withdrawal)
    assert ev.amount == 2000 * USD and ev.received == 1998 * USD
    assert usdt_t.balanceOf(who.dest.address) == ev.received
    tx = v.withdraw(usdc_t.address, who.dest.address, 700 * USD, op(2), sender=who.customer)
    [ev] = tx.events.filter(v.Withdrawal)
    assert ev.amount == ev.received == 700 * USD
    tx = v.withdraw(ETH, who.dest.address, ETHER, op(3), sender=who.customer)
    [ev] = tx.events.filter(v.Withdrawal)
    assert ev.amount == ev.received == ETHER


def test_sweep_event_reports_what_the_tier_received(funded_vault, who, usdt_t):
    v = funded_vault
    usdt_t.setParams(10, 5, sender=who.deployer)
    tx = v.sweep(usdt_t.address, 10_000 * USD, 2, sender=who.treasury)
    [ev] = tx.events.filter(v.Sweep)
    assert (ev.amount, ev.received, ev.tier) == (10_000 * USD, 9_995 * USD, 2)
    assert usdt_t.balanceOf(who.cold.address) == ev.received


def test_queued_withdrawal_expiry_is_an_event(funded_vault, who, usdc_t, chain, state_of):
    v = funded_vault
    tx = v.withdraw(usdc_t.address, who.dest.address, 60_000 * USD, op(4), sender=who.customer)
    eta = tx.events.filter(v.WithdrawalQueued)[0].eta
    chain.mine(timestamp=eta + GRACE)
    with ape.reverts("Vault: not expired"):
        v.expireWithdrawal(op(4), sender=who.stranger)
    chain.mine(timestamp=eta + GRACE + 1)
    before = state_of(v)
    tx = v.expireWithdrawal(op(4), sender=who.stranger)  # anyone
    [ev] = tx.events.filter(v.WithdrawalExpired)
    assert bytes(ev.op_id) == op(4) and v.operations(op(4)).status == v.STATUS_EXPIRED() == 4
    assert state_of(v) == before  # nothing moved
    with ape.reverts("Vault: not queued"):
        v.expireWithdrawal(op(4), sender=who.stranger)
    with ape.reverts("Vault: not queued"):
        v.executeWithdrawal(op(4), sender=who.customer)
    with ape.reverts("Vault: op_id used"):
        v.withdraw(usdc_t.address, who.dest.address, USD, op(4), sender=who.customer)


def _successor(project, old, whitelist, who, chain):
    new = project.Vault.deploy(who.admin, whitelist.address, old.address, sender=who.deployer)
    new.setRoles(who.customer, R.CUSTOMER, sender=who.admin)
    whitelist.add(new.address, sender=who.compliance)
    chain.mine(timestamp=chain.pending_timestamp + DAY)
    return new


def test_receive_migration_only_from_predecessor(project, funded_vault, whitelist, who, chain):
    first = funded_vault
    with ape.reverts("Vault: not predecessor"):
        first.receiveMigration(value=ETHER, sender=who.stranger)  # a first vault has none
    new = _successor(project, first, whitelist, who, chain)
    assert new.PREDECESSOR() == first.address
    with ape.reverts("Vault: not predecessor"):
        new.receiveMigration(value=ETHER, sender=who.stranger)
    # a vault built for another predecessor refuses the migration, so it cannot happen
    stray = project.Vault.deploy(who.admin, whitelist.address, who.stranger.address,
                                 sender=who.deployer)
    whitelist.add(stray.address, sender=who.compliance)
    chain.mine(timestamp=chain.pending_timestamp + DAY)
    with ape.reverts("Vault: not predecessor"):
        first.migrate(stray.address, [], sender=who.admin)
    assert first.migrated_to() == ETH


def test_rescue_forwards_late_funds_to_successor_only(project, funded_vault, whitelist, who,
                                                      usdc_t, usdt_t, chain):
    old = funded_vault
    new = _successor(project, old, whitelist, who, chain)
    with ape.reverts("Vault: not migrated"):
        old.rescue(usdc_t.address, sender=who.stranger)
    old.migrate(new.address, [usdc_t.address], sender=who.admin)  # USDT left out
    left = usdt_t.balanceOf(old.address)
    assert left > 0
    tx = old.rescue(usdt_t.address, sender=who.stranger)  # anyone may call
    [ev] = tx.events.filter(old.Migrated)
    assert (ev.new_vault, ev.token, ev.amount) == (new.address, usdt_t.address, left)
    assert usdt_t.balanceOf(old.address) == 0 and usdt_t.balanceOf(new.address) == left
    # funds arriving after the migration
    usdc_t.transfer(old.address, 5 * USD, sender=who.depositor)
    chain.provider.set_balance(old.address, 2 * ETHER)
    before_new = chain.provider.get_balance(new.address)
    tx = old.rescue(ETH, sender=who.stranger)
    assert tx.events.filter(new.MigrationReceived)[0].amount == 2 * ETHER
    assert chain.provider.get_balance(new.address) - before_new == 2 * ETHER
    old.rescue(usdc_t.address, sender=who.stranger)
    assert usdc_t.balanceOf(old.address) == 0
    with ape.reverts("Vault: nothing to rescue"):
        old.rescue(usdc_t.address, sender=who.stranger)
    with ape.reverts("Vault: nothing to rescue"):
        old.rescue(ETH, sender=who.stranger)


def test_successor_refuses_op_ids_the_predecessor_used(project, funded_vault, whitelist, who,
                                                       usdc_t, chain):
    old = funded_vault
    old.withdraw(ETH, who.dest.address, ETHER, op(7), sender=who.customer)
    old.withdraw(usdc_t.address, who.dest.address, 60_000 * USD, op(8), sender=who.customer)
    new = _successor(project, old, whitelist, who, chain)
    new.setTokenConfig(ETH, True, 100 * ETHER, 10 * ETHER, 10 * ETHER, sender=who.admin)
    new.setPricing(ETH, 18, 1, 10**12, 2_000 * USD, sender=who.admin)
    new.setUsdLimits(10**30, 10**30, sender=who.admin)
    old.migrate(new.address, [usdc_t.address], sender=who.admin)
    assert new.opIdUsed(op(7)) and new.opIdUsed(op(8)) and not new.opIdUsed(op(9))
    for used in (op(7), op(8)):  # paid, queued
        with ape.reverts("Vault: op_id used"):
            new.withdraw(ETH, who.dest.address, ETHER, used, sender=who.customer)
    tx = new.withdraw(ETH, who.dest.address, ETHER, op(9), sender=who.customer)
    assert tx.events.filter(new.Withdrawal)[0].received == ETHER


def test_deploy_open_vault(project, accounts, chain):
    admin, comp, payee = accounts[0], accounts[1], accounts[2]
    vault, wl = deploy_open_vault(project, admin, comp)
    assert vault.whitelist() == wl.address and vault.PREDECESSOR() == ETH
    assert vault.hasRole(admin, R.ADMIN | R.CUSTOMER)
    vault.depositEth(b"\x01" * 32, value=500 * ETHER, sender=payee)
    wl.add(payee.address, sender=comp)
    chain.mine(timestamp=chain.pending_timestamp + 2)
    tx = vault.withdraw(ETH, payee.address, 400 * ETHER, op(1), sender=admin)
    assert tx.return_value is True or tx.events.filter(vault.Withdrawal)
    [ev] = tx.events.filter(vault.Withdrawal)
    assert ev.amount == ev.received == 400 * ETHER
