"""SWEEPER (issue 14): the least-privilege role of the keeper's automated daily sweep. It may call
`sweep` to TIER_COLD only (the governance-set cold address, within the cold sweep budget, also
while paused); it cannot sweep to warm, withdraw, or change any parameter or role. TREASURY keeps
every tier; an account with neither role cannot sweep at all. A refused call changes nothing."""

from __future__ import annotations

import ape
from vault_helpers import COLD_USD, USD, op

from keeper.roles import VaultRole as R
from scripts.deployments import ETH

ETHER = 10**18
WARM, COLD = 1, 2


def _refused(state_of, vault, reason, fn, *args, **kw):
    before = state_of(vault)
    with ape.reverts(reason):
        fn(*args, **kw)
    assert state_of(vault) == before


def test_sweeper_sweeps_to_cold_within_the_cold_budget(funded_vault, who, usdc_t, chain):
    v = funded_vault
    assert v.roles(who.sweeper) == R.SWEEPER == v.SWEEPER()
    cold_eth = chain.provider.get_balance(who.cold.address)
    tx = v.sweep(ETH, 5 * ETHER, COLD, sender=who.sweeper)
    [ev] = tx.events.filter(v.Sweep)
    assert (ev.to, ev.amount, ev.tier, ev.received) == (who.cold.address, 5 * ETHER, COLD,
                                                       5 * ETHER)
    assert chain.provider.get_balance(who.cold.address) == cold_eth + 5 * ETHER
    v.sweep(usdc_t.address, 1_000_000 * USD, COLD, sender=who.sweeper)
    assert usdc_t.balanceOf(who.cold.address) == 1_000_000 * USD
    # cold sweeps count toward the cold budget only, never the vault-wide USD limit
    assert v.coldSweptUsd() == v.valueUsd(ETH, 5 * ETHER) + 1_000_000 * USD
    assert v.outflowUsd() == 0
    left = COLD_USD - v.coldSweptUsd()
    v.sweep(usdc_t.address, left, COLD, sender=who.sweeper)
    with ape.reverts("Vault: daily limit exceeded"):
        v.sweep(usdc_t.address, 1, COLD, sender=who.sweeper)


def test_sweeper_evacuates_to_cold_while_paused(funded_vault, who, usdc_t):
    v = funded_vault
    v.pause(sender=who.pauser)
    tx = v.sweep(usdc_t.address, 10 * USD, COLD, sender=who.sweeper)
    assert tx.events.filter(v.Sweep)[0].to == who.cold.address


def test_sweeper_cannot_sweep_to_warm(funded_vault, who, state_of):
    v = funded_vault
    _refused(state_of, v, "Vault: not treasury", v.sweep, ETH, ETHER, WARM, sender=who.sweeper)
    _refused(state_of, v, "Vault: not treasury", v.sweep, ETH, ETHER, 3, sender=who.sweeper)
    v.sweep(ETH, ETHER, WARM, sender=who.treasury)  # TREASURY keeps every tier
    v.sweep(ETH, ETHER, COLD, sender=who.treasury)


def test_sweeper_cannot_withdraw_or_govern(funded_vault, who, state_of):
    v = funded_vault
    d = who.dest.address
    _refused(state_of, v, "Vault: not customer", v.withdraw, ETH, d, ETHER, op(1),
             sender=who.sweeper)
    v.withdraw(ETH, d, 11 * ETHER, op(2), sender=who.customer)  # above the threshold: queued
    _refused(state_of, v, "Vault: not customer", v.executeWithdrawal, op(2), sender=who.sweeper)
    _refused(state_of, v, "Vault: not compliance", v.cancelWithdrawal, op(2), sender=who.sweeper)
    _refused(state_of, v, "Vault: not pauser", v.pause, sender=who.sweeper)
    _refused(state_of, v, "Vault: not pricer", v.setPrice, ETH, 2_500 * USD, sender=who.sweeper)
    for fn, args in ((v.setTier, (COLD, d)), (v.setTier, (WARM, d)), (v.setUsdLimits, (1, 2**200)),
                     (v.setTokenConfig, (ETH, True, 3, 2, 1)), (v.setWhitelist, (d,)),
                     (v.setPricing, (ETH, 18, 1, 1, 1)), (v.migrate, (d, []))):
        _refused(state_of, v, "Vault: not admin", fn, *args, sender=who.sweeper)
    _refused(state_of, v, "access: not admin", v.setRoles, who.sweeper,
             R.SWEEPER | R.TREASURY, sender=who.sweeper)
    assert v.tier_address(COLD) == who.cold.address and v.roles(who.sweeper) == R.SWEEPER


def test_an_account_without_sweeper_or_treasury_cannot_sweep(funded_vault, who, state_of):
    v = funded_vault
    for outsider in (who.stranger, who.customer, who.compliance, who.pauser, who.admin):
        _refused(state_of, v, "Vault: not sweeper", v.sweep, ETH, ETHER, COLD, sender=outsider)
        _refused(state_of, v, "Vault: not treasury", v.sweep, ETH, ETHER, WARM, sender=outsider)
    v.setRoles(who.sweeper, 0, sender=who.admin)  # revoked by governance: refused from then on
    _refused(state_of, v, "Vault: not sweeper", v.sweep, ETH, ETHER, COLD, sender=who.sweeper)
