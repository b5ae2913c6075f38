"""Vault fixtures: roles held by plain test accounts (the system tests use the multisigs)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from vault_helpers import (
    COLD_USD,
    DAILY_USD,
    DAY,
    ETH_LIMITS,
    ETH_PRICING,
    USD,
    USD_LIMITS,
    USD_PRICING,
)

from keeper.roles import VaultRole as R
from scripts.deployments import ETH, deploy_stand_in_tokens, derived_signer


@pytest.fixture(scope="module")
def who(accounts: Any, chain: Any) -> SimpleNamespace:
    """Named actors; `sweeper` (SWEEPER, cold sweeps only) is an impersonated 11th account."""
    sweeper = accounts[str(derived_signer(19).address)]
    chain.provider.set_balance(sweeper.address, 10**21)
    return SimpleNamespace(
        deployer=accounts[0], admin=accounts[1], compliance=accounts[2], treasury=accounts[3],
        pauser=accounts[4], customer=accounts[5], dest=accounts[6], stranger=accounts[7],
        depositor=accounts[8], dest2=accounts[9],
        warm=derived_signer(10), cold=derived_signer(11), pending=derived_signer(12), sweeper=sweeper,
    )


@pytest.fixture(scope="module")
def tokens(who: SimpleNamespace) -> tuple[Any, Any]:
    """Fresh USDC and USDT stand-ins; the depositor holds 10^9 of each."""
    return deploy_stand_in_tokens(who.deployer, [who.depositor], amount=10**15)


@pytest.fixture(scope="module")
def usdc_t(tokens: tuple[Any, Any]) -> Any:
    return tokens[0]


@pytest.fixture(scope="module")
def usdt_t(tokens: tuple[Any, Any]) -> Any:
    return tokens[1]


@pytest.fixture(scope="module")
def whitelist(project: Any, who: SimpleNamespace) -> Any:
    """Whitelist with dest, dest2 and both tiers active at genesis; only the tiers stay
    protected from removal by compliance."""
    wl = project.Whitelist.deploy(
        who.admin, who.compliance, DAY,
        [who.dest.address, who.dest2.address, who.warm.address, who.cold.address],
        sender=who.deployer,
    )
    for customer_dest in (who.dest, who.dest2):
        wl.setProtected(customer_dest.address, False, sender=who.admin)
    return wl


@pytest.fixture(scope="module")
def vault(project: Any, who: SimpleNamespace, whitelist: Any, usdc_t: Any, usdt_t: Any) -> Any:
    """Vault with ETH/USDC/USDT configured, tiers set and roles granted to EOAs."""
    v = project.Vault.deploy(who.admin, whitelist.address, ETH, sender=who.deployer)
    v.setTokenConfig(ETH, True, *ETH_LIMITS, sender=who.admin)
    v.setPricing(ETH, *ETH_PRICING, sender=who.admin)
    for token in (usdc_t, usdt_t):
        v.setTokenConfig(token.address, True, *USD_LIMITS, sender=who.admin)
        v.setPricing(token.address, *USD_PRICING, sender=who.admin)
    v.setUsdLimits(DAILY_USD, COLD_USD, sender=who.admin)
    v.setTier(1, who.warm.address, sender=who.admin)
    v.setTier(2, who.cold.address, sender=who.admin)
    for acct, role in ((who.compliance, R.COMPLIANCE_OFFICER), (who.treasury, R.TREASURY),
                       (who.pauser, R.PAUSER), (who.customer, R.CUSTOMER),
                       (who.sweeper, R.SWEEPER)):
        v.setRoles(acct.address, role, sender=who.admin)
    assert v.roles(who.admin.address) == R.ADMIN
    return v


@pytest.fixture(scope="module")
def funded_vault(vault: Any, who: SimpleNamespace, usdc_t: Any, usdt_t: Any) -> Any:
    """The vault holding 200 ETH and 3M of each stablecoin."""
    vault.depositEth(b"\x01" * 32, value=200 * 10**18, sender=who.depositor)
    for token in (usdc_t, usdt_t):
        token.approve(vault.address, 3_000_000 * USD, sender=who.depositor)
        vault.deposit(token.address, 3_000_000 * USD, b"\x02" * 32, sender=who.depositor)
    return vault


@pytest.fixture
def state_of(chain: Any, who: SimpleNamespace, usdc_t: Any, usdt_t: Any):
    """Snapshot of every balance and vault state a failed call must leave unchanged."""

    def _state(vault: Any, op_ids: tuple[bytes, ...] = ()) -> tuple:
        holders = [vault.address, who.dest.address, who.dest2.address, who.warm.address,
                   who.cold.address, who.pending.address, who.depositor.address]
        bals = []
        for h in holders:
            bals.append(chain.provider.get_balance(h) if h != who.depositor.address else 0)
            bals.append(usdc_t.balanceOf(h))
            bals.append(usdt_t.balanceOf(h))
        flows = [vault.outflowUsd(), vault.coldSweptUsd()]
        flows += [vault.instantUsed(t) for t in (ETH, usdc_t.address, usdt_t.address)]
        ops = [tuple(vault.operations(o)) for o in op_ids]
        return (tuple(bals), tuple(flows), tuple(ops), vault.pause_ends(), vault.migrated_to())

    return _state
