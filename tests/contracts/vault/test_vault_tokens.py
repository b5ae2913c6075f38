"""Token misbehaviour through the vault: blacklist and pause give a clear revert, move nothing."""

from __future__ import annotations

import ape

USD = 10**6


def op(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _no_effect(state_of, vault, reason, fn, *args, **kw):
    before = state_of(vault)
    with ape.reverts(reason):
        fn(*args, **kw)
    assert state_of(vault) == before


def test_usdc_blacklisted_recipient(funded_vault, who, usdc_t, state_of):
    usdc_t.blacklist(who.dest.address, sender=who.deployer)
    _no_effect(state_of, funded_vault, "Blacklistable: account is blacklisted",
               funded_vault.withdraw, usdc_t.address, who.dest.address, USD, op(1),
               sender=who.customer)
    assert funded_vault.operations(op(1)).status == 0  # op id still free for a retry


def test_usdc_blacklisted_vault(funded_vault, who, usdc_t, state_of):
    usdc_t.blacklist(funded_vault.address, sender=who.deployer)
    _no_effect(state_of, funded_vault, "Blacklistable: account is blacklisted",
               funded_vault.sweep, usdc_t.address, USD, 2, sender=who.treasury)


def test_usdc_blacklisted_depositor(vault, who, usdc_t, state_of):
    usdc_t.approve(vault.address, USD, sender=who.depositor)
    usdc_t.blacklist(who.depositor.address, sender=who.deployer)
    _no_effect(state_of, vault, "Blacklistable: account is blacklisted", vault.deposit,
               usdc_t.address, USD, b"\x00" * 32, sender=who.depositor)


def test_usdc_paused(funded_vault, who, usdc_t, state_of):
    usdc_t.pause(sender=who.deployer)
    _no_effect(state_of, funded_vault, "Pausable: paused", funded_vault.withdraw,
               usdc_t.address, who.dest.address, USD, op(2), sender=who.customer)


def test_usdt_blacklisted_vault(funded_vault, who, usdt_t, state_of):
    # USDT reverts without a reason; the vault names the failure.
    usdt_t.addBlackList(funded_vault.address, sender=who.deployer)
    _no_effect(state_of, funded_vault, "SafeERC20: token call failed", funded_vault.withdraw,
               usdt_t.address, who.dest.address, USD, op(3), sender=who.customer)


def test_usdt_paused(funded_vault, who, usdt_t, state_of):
    usdt_t.pause(sender=who.deployer)
    _no_effect(state_of, funded_vault, "SafeERC20: token call failed", funded_vault.withdraw,
               usdt_t.address, who.dest.address, USD, op(4), sender=who.customer)
    usdt_t.approve(funded_vault.address, USD, sender=who.depositor)
    _no_effect(state_of, funded_vault, "SafeERC20: token call failed", funded_vault.deposit,
               usdt_t.address, USD, b"\x00" * 32, sender=who.depositor)


def test_usdt_deposit_needs_allowance_reset_pattern(vault, who, usdt_t):
    # USDT refuses non-zero -> non-zero approve; the vault never approves, the depositor does.
    usdt_t.approve(vault.address, 5 * USD, sender=who.depositor)
    vault.deposit(usdt_t.address, 5 * USD, b"\x00" * 32, sender=who.depositor)
    assert usdt_t.allowance(who.depositor.address, vault.address) == 0
    usdt_t.approve(vault.address, 7 * USD, sender=who.depositor)
    tx = vault.deposit(usdt_t.address, 7 * USD, b"\x00" * 32, sender=who.depositor)
    assert tx.events.filter(vault.Deposit)[0].amount == 7 * USD
