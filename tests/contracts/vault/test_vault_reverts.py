"""Every Vault revert path, with its reason; a failed call changes no balance and no state."""

from __future__ import annotations

import ape
import pytest

from scripts.deployments import ETH

DAY = 86400
USD = 10**6
ETHER = 10**18
ZERO32 = b"\x00" * 32


def op(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _reverts_without_effect(state_of, vault, reason, fn, *args, op_ids=(), **kw):
    before = state_of(vault, op_ids)
    with ape.reverts(reason):
        fn(*args, **kw)
    assert state_of(vault, op_ids) == before


# ---------------------------------------------------------------- withdraw


def test_withdraw_reverts(funded_vault, who, usdc_t, state_of, chain, project):
    v = funded_vault
    d = who.dest.address
    cases = [
        ("Vault: not customer", (ETH, d, ETHER, op(1)), who.stranger),
        ("Vault: not customer", (ETH, d, ETHER, op(1)), who.compliance),
        ("Vault: zero op_id", (ETH, d, ETHER, ZERO32), who.customer),
        ("Vault: token not supported", (who.stranger.address, d, 1, op(1)), who.customer),
        ("Vault: zero amount", (ETH, d, 0, op(1)), who.customer),
        ("Vault: above transaction cap", (ETH, d, 40 * ETHER + 1, op(1)), who.customer),
        ("Vault: bad destination", (ETH, ETH, ETHER, op(1)), who.customer),
        ("Vault: bad destination", (ETH, v.address, ETHER, op(1)), who.customer),
        ("Vault: destination not whitelisted", (ETH, who.stranger.address, ETHER, op(1)),
         who.customer),
        ("Vault: destination not whitelisted", (usdc_t.address, who.pending.address, 1, op(1)),
         who.customer),
    ]
    for reason, args, sender in cases:
        _reverts_without_effect(state_of, v, reason, v.withdraw, *args, sender=sender,
                                op_ids=(op(1),))
    v.withdraw(ETH, d, ETHER, op(1), sender=who.customer)
    _reverts_without_effect(state_of, v, "Vault: op_id used", v.withdraw, ETH, d, ETHER, op(1),
                            sender=who.customer, op_ids=(op(1),))


def test_withdraw_insufficient_balance_and_limit(project, whitelist, who, usdc_t, state_of):
    vault = project.Vault.deploy(who.admin, whitelist.address, ETH, sender=who.deployer)
    vault.setTokenConfig(ETH, True, 10 * ETHER, 10 * ETHER, 10 * ETHER, sender=who.admin)
    vault.setTokenConfig(usdc_t.address, True, 10 * USD, 10 * USD, 10 * USD, sender=who.admin)
    vault.setPricing(ETH, 18, 1, 10**12, 2_000 * USD, sender=who.admin)
    vault.setPricing(usdc_t.address, 6, USD, USD, USD, sender=who.admin)
    vault.setRoles(who.customer, 16, sender=who.admin)
    # no USD limit set yet: nothing may leave
    _reverts_without_effect(state_of, vault, "Vault: daily limit exceeded", vault.withdraw,
                            ETH, who.dest.address, ETHER, op(2), sender=who.customer)
    vault.setUsdLimits(10**30, 10**30, sender=who.admin)
    # unfunded vault: nothing to pay with
    _reverts_without_effect(state_of, vault, "Vault: insufficient balance", vault.withdraw,
                            ETH, who.dest.address, ETHER, op(2), sender=who.customer)
    _reverts_without_effect(state_of, vault, "SafeERC20: insufficient balance", vault.withdraw,
                            usdc_t.address, who.dest.address, USD, op(2), sender=who.customer)


def test_daily_limit_revert_changes_nothing(funded_vault, who, state_of, chain):
    v = funded_vault
    v.setUsdLimits(30_000 * USD, 30_000 * USD, sender=who.admin)  # 15 ETH at 2,000 USD
    v.withdraw(ETH, who.dest.address, 10 * ETHER, op(10), sender=who.customer)
    v.withdraw(ETH, who.dest.address, 4 * ETHER, op(30), sender=who.customer)
    _reverts_without_effect(state_of, v, "Vault: daily limit exceeded", v.withdraw, ETH,
                            who.dest.address, ETHER + 1, op(31), sender=who.customer,
                            op_ids=(op(31),))
    _reverts_without_effect(state_of, v, "Vault: daily limit exceeded", v.sweep, ETH,
                            ETHER + 1, 1, sender=who.treasury)
    v.sweep(ETH, 15 * ETHER, 2, sender=who.treasury)  # cold: its own budget
    _reverts_without_effect(state_of, v, "Vault: daily limit exceeded", v.sweep, ETH,
                            1, 2, sender=who.treasury)


def test_eth_transfer_to_rejecting_contract(funded_vault, whitelist, who, state_of, chain):
    v = funded_vault
    whitelist.add(whitelist.address, sender=who.compliance)  # a contract without payable default
    chain.mine(timestamp=chain.pending_timestamp + DAY)
    _reverts_without_effect(state_of, v, "Vault: ETH transfer failed", v.withdraw, ETH,
                            whitelist.address, ETHER, op(3), sender=who.customer,
                            op_ids=(op(3),))


# ---------------------------------------------------------------- queue


def test_queue_reverts(funded_vault, who, usdc_t, state_of, chain):
    v = funded_vault
    v.withdraw(usdc_t.address, who.dest.address, 60_000 * USD, op(4), sender=who.customer)
    ids = (op(4),)
    _reverts_without_effect(state_of, v, "Vault: withdrawal not ready", v.executeWithdrawal,
                            op(4), sender=who.customer, op_ids=ids)
    _reverts_without_effect(state_of, v, "Vault: not customer", v.executeWithdrawal, op(4),
                            sender=who.stranger, op_ids=ids)
    _reverts_without_effect(state_of, v, "Vault: not queued", v.executeWithdrawal, op(5),
                            sender=who.customer, op_ids=ids)
    _reverts_without_effect(state_of, v, "Vault: not compliance", v.cancelWithdrawal, op(4),
                            sender=who.customer, op_ids=ids)
    _reverts_without_effect(state_of, v, "Vault: not queued", v.cancelWithdrawal, op(5),
                            sender=who.compliance, op_ids=ids)
    # a cap lowered by governance after queueing is enforced at execution
    v.setTokenConfig(usdc_t.address, True, 50_000 * USD, 10_000 * USD, 200_000 * USD,
                     sender=who.admin)
    chain.mine(timestamp=chain.pending_timestamp + DAY + 1)
    _reverts_without_effect(state_of, v, "Vault: above transaction cap", v.executeWithdrawal,
                            op(4), sender=who.customer, op_ids=ids)
    v.setTokenConfig(usdc_t.address, False, 400_000 * USD, 50_000 * USD, 200_000 * USD,
                     sender=who.admin)
    _reverts_without_effect(state_of, v, "Vault: token not supported", v.executeWithdrawal,
                            op(4), sender=who.customer, op_ids=ids)


def test_paused_blocks_queue_execution_but_not_cancel(funded_vault, who, usdc_t, state_of,
                                                      chain):
    v = funded_vault
    v.withdraw(usdc_t.address, who.dest.address, 60_000 * USD, op(6), sender=who.customer)
    chain.mine(timestamp=chain.pending_timestamp + DAY + 1)
    v.pause(sender=who.pauser)
    _reverts_without_effect(state_of, v, "Vault: paused", v.executeWithdrawal, op(6),
                            sender=who.customer, op_ids=(op(6),))
    v.cancelWithdrawal(op(6), sender=who.compliance)
    assert v.operations(op(6)).status == 3


# ---------------------------------------------------------------- deposits


def test_deposit_reverts(vault, who, usdc_t, state_of, project):
    usdc_t.approve(vault.address, 10 * USD, sender=who.depositor)
    _reverts_without_effect(state_of, vault, "Vault: use depositEth", vault.deposit, ETH, 1,
                            ZERO32, sender=who.depositor)
    _reverts_without_effect(state_of, vault, "Vault: token not supported", vault.deposit,
                            who.stranger.address, 1, ZERO32, sender=who.depositor)
    _reverts_without_effect(state_of, vault, "Vault: zero amount", vault.deposit,
                            usdc_t.address, 0, ZERO32, sender=who.depositor)
    _reverts_without_effect(state_of, vault, "ERC20: transfer amount exceeds allowance",
                            vault.deposit, usdc_t.address, 11 * USD, ZERO32, sender=who.depositor)
    _reverts_without_effect(state_of, vault, "Vault: zero amount", vault.depositEth, ZERO32,
                            value=0, sender=who.depositor)
    vault.setTokenConfig(who.stranger.address, True, 10, 10, 10, sender=who.admin)
    _reverts_without_effect(state_of, vault, "SafeERC20: token has no code", vault.deposit,
                            who.stranger.address, 1, ZERO32, sender=who.depositor)
    vault.setTokenConfig(ETH, False, 0, 0, 0, sender=who.admin)
    _reverts_without_effect(state_of, vault, "Vault: token not supported", vault.depositEth,
                            ZERO32, value=1, sender=who.depositor)


# ---------------------------------------------------------------- sweep, pause


def test_sweep_reverts(funded_vault, whitelist, who, state_of):
    v = funded_vault
    _reverts_without_effect(state_of, v, "Vault: not treasury", v.sweep, ETH, ETHER, 1,
                            sender=who.customer)
    _reverts_without_effect(state_of, v, "Vault: unknown tier", v.sweep, ETH, ETHER, 3,
                            sender=who.treasury)
    _reverts_without_effect(state_of, v, "Vault: zero amount", v.sweep, ETH, 0, 1,
                            sender=who.treasury)
    _reverts_without_effect(state_of, v, "Vault: token not supported", v.sweep,
                            who.stranger.address, 1, 1, sender=who.treasury)
    whitelist.setProtected(who.warm.address, False, sender=who.admin)  # a genesis tier entry
    whitelist.remove(who.warm.address, sender=who.compliance)
    _reverts_without_effect(state_of, v, "Vault: destination not whitelisted", v.sweep, ETH,
                            ETHER, 1, sender=who.treasury)


def test_pause_reverts(funded_vault, who, state_of):
    v = funded_vault
    _reverts_without_effect(state_of, v, "Vault: not pauser", v.pause, sender=who.customer)
    _reverts_without_effect(state_of, v, "Vault: not paused", v.unpause, sender=who.admin)
    v.pause(sender=who.pauser)
    _reverts_without_effect(state_of, v, "Vault: already paused", v.pause, sender=who.pauser)
    _reverts_without_effect(state_of, v, "Vault: not admin", v.unpause, sender=who.customer)
    _reverts_without_effect(state_of, v, "Vault: paused", v.sweep, ETH, ETHER, 1,
                            sender=who.treasury)
    _reverts_without_effect(state_of, v, "Vault: paused", v.migrate, who.dest.address, [],
                            sender=who.admin)


def test_admin_can_pause(funded_vault, who):
    funded_vault.pause(sender=who.admin)
    assert funded_vault.isPaused()


# ---------------------------------------------------------------- admin


def test_admin_reverts(funded_vault, who, usdc_t):
    v = funded_vault
    for fn, args in ((v.setTokenConfig, (ETH, True, 3, 2, 1)), (v.setTier, (1, who.dest.address)),
                     (v.setWhitelist, (who.dest.address,)), (v.setUsdLimits, (1, 1)),
                     (v.setPricing, (ETH, 18, 1, 1, 1)), (v.migrate, (who.dest.address, []))):
        with ape.reverts("Vault: not admin"):
            fn(*args, sender=who.stranger)
    with ape.reverts("access: not admin"):
        v.setRoles(who.stranger, 1, sender=who.stranger)
    with ape.reverts("Vault: inconsistent limits"):
        v.setTokenConfig(ETH, True, 10, 11, 1, sender=who.admin)
    with ape.reverts("Vault: bad decimals"):
        v.setPricing(ETH, 37, 1, 1, 1, sender=who.admin)
    with ape.reverts("Vault: price out of bounds"):
        v.setPricing(ETH, 18, 0, 1, 0, sender=who.admin)
    with ape.reverts("Vault: tier 0 is the vault"):
        v.setTier(0, who.dest.address, sender=who.admin)
    with ape.reverts("Vault: zero whitelist"):
        v.setWhitelist(ETH, sender=who.admin)
    with ape.reverts("access: zero address"):
        v.setRoles(ETH, 1, sender=who.admin)
    with ape.reverts("access: admin cannot drop own admin"):
        v.setRoles(who.admin, 2, sender=who.admin)
    with ape.reverts("access: no roles"):
        v.renounceRoles(sender=who.stranger)
    with ape.reverts("Vault: bad migration target"):
        v.migrate(who.dest.address, [], sender=who.admin)  # an EOA
    with ape.reverts("Vault: bad migration target"):
        v.migrate(v.address, [], sender=who.admin)
    assert v.token_config(ETH).tx_cap == 40 * ETHER


def test_roles_and_renounce(funded_vault, who):
    v = funded_vault
    v.setRoles(who.stranger, 16, sender=who.admin)  # CUSTOMER
    assert v.hasRole(who.stranger, 16)
    v.withdraw(ETH, who.dest.address, 1, op(40), sender=who.stranger)
    v.renounceRoles(sender=who.stranger)
    with ape.reverts("Vault: not customer"):
        v.withdraw(ETH, who.dest.address, 1, op(41), sender=who.stranger)


@pytest.mark.parametrize("args,reason", [
    (("0x0000000000000000000000000000000000000000", "wl", ETH), "Vault: zero admin"),
    (("admin", "0x0000000000000000000000000000000000000000", ETH), "Vault: zero whitelist"),
])
def test_constructor_reverts(project, who, whitelist, args, reason, assert_deploy_reverts):
    resolved = [who.admin.address if a == "admin" else whitelist.address if a == "wl" else a
                for a in args]
    assert_deploy_reverts(project.Vault, *resolved, reason=reason, sender=who.deployer)
