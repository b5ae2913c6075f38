"""Security review findings on the vault's limits: instant budget against split withdrawals
(finding 2), one USD limit over a rolling 24 h window (4), cold sweeps with their own budget
that work while paused (6), the USD window carried across a migration (5)."""

from __future__ import annotations

import ape
import pytest
from vault_helpers import COLD_USD, DAILY_USD, next_hour, op

from keeper.roles import VaultRole as R
from scripts.deployments import ETH

HOUR = 3600
DAY = 86400
USD = 10**6
ETHER = 10**18


def _outcome(v, tx) -> str:
    return "paid" if tx.events.filter(v.Withdrawal) else "queued"


def _no_queue(v, who, *tokens) -> None:
    """Governance lifts queue thresholds and instant budgets so only the USD limit binds."""
    for token, cap in tokens:
        v.setTokenConfig(token, True, cap, cap, 10**30, sender=who.admin)


# ---------------------------------------------------------------- finding 2


def test_split_withdrawals_queue_beyond_the_instant_budget(funded_vault, who, usdc_t, chain):
    v = funded_vault
    next_hour(chain)
    outcomes = [_outcome(v, v.withdraw(usdc_t.address, who.dest.address, 50_000 * USD,
                                       op(i + 1), sender=who.customer)) for i in range(6)]
    # instant budget 200,000 per 24 h: four 50,000 splits pass, the rest wait 24 h
    assert outcomes == ["paid"] * 4 + ["queued"] * 2
    assert usdc_t.balanceOf(who.dest.address) == 200_000 * USD
    assert v.instantUsed(usdc_t.address) == 200_000 * USD
    # the budget is per token: ETH still pays instantly
    assert _outcome(v, v.withdraw(ETH, who.dest.address, ETHER, op(10),
                                  sender=who.customer)) == "paid"
    # queued splits execute after the delay without touching the instant budget
    chain.mine(timestamp=chain.pending_timestamp + DAY)
    v.executeWithdrawal(op(5), sender=who.customer)
    assert v.instantUsed(usdc_t.address) == 200_000 * USD
    # the budget comes back after the rolling window, not at a calendar boundary
    next_hour(chain, 2)
    assert v.instantUsed(usdc_t.address) == 0
    assert _outcome(v, v.withdraw(usdc_t.address, who.dest.address, 50_000 * USD, op(11),
                                  sender=who.customer)) == "paid"


def test_withdrawal_that_does_not_fit_the_budget_queues_whole(funded_vault, who, usdc_t):
    v = funded_vault
    for i in range(3):
        v.withdraw(usdc_t.address, who.dest.address, 50_000 * USD, op(i + 1), sender=who.customer)
    tx = v.withdraw(usdc_t.address, who.dest.address, 50_000 * USD + 1, op(4),
                    sender=who.customer)  # above the threshold anyway
    assert _outcome(v, tx) == "queued"
    tx = v.withdraw(usdc_t.address, who.dest.address, 50_000 * USD, op(5), sender=who.customer)
    assert _outcome(v, tx) == "paid" and v.instantUsed(usdc_t.address) == 200_000 * USD
    tx = v.withdraw(usdc_t.address, who.dest.address, 1, op(6), sender=who.customer)
    assert _outcome(v, tx) == "queued"


# ---------------------------------------------------------------- finding 4


def test_one_usd_limit_for_all_tokens(funded_vault, who, usdc_t, usdt_t, state_of):
    v = funded_vault
    _no_queue(v, who, (usdc_t.address, 400_000 * USD), (usdt_t.address, 400_000 * USD),
              (ETH, 100 * ETHER))
    v.withdraw(usdc_t.address, who.dest.address, 400_000 * USD, op(1), sender=who.customer)
    v.withdraw(usdt_t.address, who.dest.address, 400_000 * USD, op(2), sender=who.customer)
    v.withdraw(ETH, who.dest.address, 100 * ETHER, op(3), sender=who.customer)  # 200,000 USD
    assert v.outflowUsd() == DAILY_USD and v.remainingUsd() == 0
    for token, n in ((ETH, 1), (usdc_t.address, 1), (usdt_t.address, 1)):
        before = state_of(v)
        with ape.reverts("Vault: daily limit exceeded"):
            v.withdraw(token, who.dest.address, n, op(4), sender=who.customer)
        assert state_of(v) == before
    with ape.reverts("Vault: daily limit exceeded"):
        v.sweep(usdc_t.address, USD, 1, sender=who.treasury)  # warm sweeps share it


def test_rolling_window_has_no_midnight_reset(funded_vault, who, usdc_t, chain):
    v = funded_vault
    _no_queue(v, who, (usdc_t.address, 400_000 * USD))
    # 23:30 UTC: spend 600,000; 00:30 UTC (one hour later, a new calendar day): 400,000
    chain.mine(timestamp=(chain.pending_timestamp // DAY + 1) * DAY + 23 * HOUR + 1800)
    start_hour = chain.pending_timestamp // HOUR
    for i, amount in enumerate((300_000, 300_000)):
        v.withdraw(usdc_t.address, who.dest.address, amount * USD, op(i + 1), sender=who.customer)
    chain.mine(timestamp=chain.pending_timestamp + HOUR)
    v.withdraw(usdc_t.address, who.dest.address, 400_000 * USD, op(3), sender=who.customer)
    with ape.reverts("Vault: daily limit exceeded"):  # a calendar-day limit would allow this
        v.withdraw(usdc_t.address, who.dest.address, USD, op(4), sender=who.customer)
    # 24 h after the first spend the window still holds it (any 24 h interval <= limit)
    chain.mine(timestamp=(start_hour + 24) * HOUR + HOUR - 1)
    with ape.reverts("Vault: daily limit exceeded"):
        v.withdraw(usdc_t.address, who.dest.address, USD, op(4), sender=who.customer)
    # once the first hour's bucket leaves the window exactly its 600,000 come back
    chain.mine(timestamp=(start_hour + 25) * HOUR)
    assert v.remainingUsd() == 600_000 * USD
    v.withdraw(usdc_t.address, who.dest.address, 300_000 * USD, op(4), sender=who.customer)
    v.withdraw(usdc_t.address, who.dest.address, 300_000 * USD, op(5), sender=who.customer)
    assert v.remainingUsd() == 0
    with ape.reverts("Vault: daily limit exceeded"):
        v.withdraw(usdc_t.address, who.dest.address, 1, op(6), sender=who.customer)


def test_eth_valued_at_bounded_governance_price(funded_vault, who, chain):
    v = funded_vault
    _no_queue(v, who, (ETH, 100 * ETHER))
    assert v.valueUsd(ETH, ETHER) == 2_000 * USD and v.valueUsd(ETH, 1) == 1  # rounded up
    v.setRoles(who.stranger, R.PRICER, sender=who.admin)
    with ape.reverts("Vault: not pricer"):
        v.setPrice(ETH, 3_000 * USD, sender=who.customer)
    for bad in (999 * USD, 4_001 * USD):
        with ape.reverts("Vault: price out of bounds"):
            v.setPrice(ETH, bad, sender=who.stranger)
    tx = v.setPrice(ETH, 4_000 * USD, sender=who.stranger)
    assert tx.events.filter(v.PriceSet)[0].price == 4_000 * USD
    v.setUsdLimits(400_000 * USD, COLD_USD, sender=who.admin)
    # at 4,000 USD a 400,000 USD limit is 100 ETH (200 ETH at the old price)
    for i in range(2):
        v.withdraw(ETH, who.dest.address, 50 * ETHER, op(i + 1), sender=who.customer)
    with ape.reverts("Vault: daily limit exceeded"):
        v.withdraw(ETH, who.dest.address, 1, op(4), sender=who.customer)
    with ape.reverts("Vault: price out of bounds"):
        v.setPricing(ETH, 18, 2_000 * USD, 1_000 * USD, 1_500 * USD, sender=who.admin)
    with ape.reverts("Vault: not admin"):
        v.setPricing(ETH, 18, 1, 10**12, 1, sender=who.stranger)
    with ape.reverts("Vault: token not priced"):
        v.setPrice(who.dest.address, USD, sender=who.stranger)


def test_unpriced_token_cannot_leave(project, whitelist, who, chain):
    v = project.Vault.deploy(who.admin, whitelist.address, ETH, sender=who.deployer)
    v.setTokenConfig(ETH, True, ETHER, ETHER, ETHER, sender=who.admin)
    v.setUsdLimits(10**30, 10**30, sender=who.admin)
    v.setRoles(who.customer, R.CUSTOMER, sender=who.admin)
    v.depositEth(b"\x01" * 32, value=ETHER, sender=who.depositor)
    with ape.reverts("Vault: token not priced"):
        v.withdraw(ETH, who.dest.address, 1, op(1), sender=who.customer)


# ---------------------------------------------------------------- finding 6


def test_cold_sweeps_have_their_own_budget(funded_vault, who, usdc_t, usdt_t):
    v = funded_vault
    _no_queue(v, who, (usdc_t.address, 400_000 * USD), (usdt_t.address, 400_000 * USD))
    v.withdraw(usdc_t.address, who.dest.address, 400_000 * USD, op(1), sender=who.customer)
    v.withdraw(usdt_t.address, who.dest.address, 400_000 * USD, op(2), sender=who.customer)
    v.sweep(usdc_t.address, 200_000 * USD, 1, sender=who.treasury)  # warm shares the limit
    assert v.remainingUsd() == 0
    tx = v.sweep(usdc_t.address, 1_500_000 * USD, 2, sender=who.treasury)  # a busy day
    assert tx.events.filter(v.Sweep)[0].received == 1_500_000 * USD
    tx = v.sweep(usdt_t.address, 500_000 * USD, 2, sender=who.treasury)
    assert v.coldSweptUsd() == COLD_USD and v.outflowUsd() == DAILY_USD
    with ape.reverts("Vault: daily limit exceeded"):
        v.sweep(usdt_t.address, 1, 2, sender=who.treasury)


def test_cold_sweep_evacuates_while_paused(funded_vault, who, usdc_t, chain):
    v = funded_vault
    v.pause(sender=who.pauser)
    with ape.reverts("Vault: paused"):
        v.sweep(usdc_t.address, USD, 1, sender=who.treasury)
    with ape.reverts("Vault: paused"):
        v.withdraw(usdc_t.address, who.dest.address, USD, op(1), sender=who.customer)
    tx = v.sweep(usdc_t.address, 1_000_000 * USD, 2, sender=who.treasury)
    assert tx.events.filter(v.Sweep)[0].to == who.cold.address
    eth = chain.provider.get_balance(v.address)
    v.sweep(ETH, eth, 2, sender=who.treasury)
    assert chain.provider.get_balance(v.address) == 0
    with ape.reverts("Vault: not sweeper"):  # neither SWEEPER nor TREASURY
        v.sweep(ETH, 1, 2, sender=who.customer)


# ---------------------------------------------------------------- finding 5


@pytest.mark.parametrize("used_usd", [800_000])
def test_usd_window_carried_to_successor(project, funded_vault, whitelist, who, usdc_t, chain,
                                         used_usd):
    old = funded_vault
    _no_queue(old, who, (usdc_t.address, 400_000 * USD))
    new = project.Vault.deploy(who.admin, whitelist.address, old.address, sender=who.deployer)
    for call, args in ((new.setTokenConfig, (usdc_t.address, True, 400_000 * USD,
                                             400_000 * USD, 10**30)),
                       (new.setPricing, (usdc_t.address, 6, USD, USD, USD)),
                       (new.setUsdLimits, (DAILY_USD, COLD_USD))):
        call(*args, sender=who.admin)
    new.setRoles(who.customer, R.CUSTOMER, sender=who.admin)
    whitelist.add(new.address, sender=who.compliance)
    chain.mine(timestamp=chain.pending_timestamp + DAY)
    for i, amount in enumerate((400_000, used_usd - 400_000)):
        old.withdraw(usdc_t.address, who.dest.address, amount * USD, op(i + 1),
                     sender=who.customer)
    chain.mine(timestamp=chain.pending_timestamp + 2 * HOUR)  # within the old window
    assert old.outflowUsd() == used_usd * USD
    old.migrate(new.address, [usdc_t.address], sender=who.admin)
    assert new.outflowUsd() == used_usd * USD
    with ape.reverts("Vault: daily limit exceeded"):
        new.withdraw(usdc_t.address, who.dest.address, (DAILY_USD - used_usd * USD) + 1,
                     op(10), sender=who.customer)
    new.withdraw(usdc_t.address, who.dest.address, DAILY_USD - used_usd * USD, op(10),
                 sender=who.customer)
    # a second ETH arrival (rescue) does not count the predecessor's usage twice
    chain.provider.set_balance(old.address, ETHER)
    old.rescue(ETH, sender=who.stranger)
    assert new.outflowUsd() == DAILY_USD
