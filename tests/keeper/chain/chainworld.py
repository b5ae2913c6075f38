"""Vault deployment for the follower tests: ONE helper (importable as ``chainworld``), so a
change of the Vault's constructor or limit API is absorbed here and nowhere else."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from keeper.assets import ETH_ADDRESS, USDC, USDT
from scripts import deployments as dep

BIG = 2**128
TOKENS = (ETH_ADDRESS, USDC.address, USDT.address)


def deploy_vault(project: Any, w3: Any, who: SimpleNamespace, predecessor: Any = None,
                 queue_threshold: int | None = None) -> Any:
    """A vault with effectively unlimited limits for ETH, USDC and USDT (``queue_threshold``:
    withdrawals above it are queued), ``who.admin`` holding ADMIN/TREASURY/CUSTOMER,
    ``who.compliance`` the compliance officer, ``who.dest`` and tier 1 (``who.warm``) active on
    its whitelist. With ``predecessor`` the vault is that vault's successor (and is whitelisted
    on the predecessor's whitelist, so the predecessor may migrate to it)."""
    if predecessor is None:
        vault, wl = dep.deploy_open_vault(project, who.admin, who.compliance)
    else:  # deploy_open_vault builds no successor: the same set-up with a predecessor
        wl = project.Whitelist.deploy(who.admin, who.compliance, 1, [], sender=who.admin)
        vault = project.Vault.deploy(who.admin, wl.address, predecessor.address, sender=who.admin)
        vault.setRoles(who.admin.address, dep.ADMIN | dep.TREASURY | dep.CUSTOMER,
                       sender=who.admin)
        vault.setRoles(who.compliance.address, dep.COMPLIANCE_OFFICER, sender=who.admin)
        project.Whitelist.at(predecessor.whitelist()).add(vault.address, sender=who.compliance)
    for token in TOKENS:
        if predecessor is not None or queue_threshold is not None:
            vault.setTokenConfig(token, True, BIG, BIG, queue_threshold or BIG, sender=who.admin)
    for account in (who.dest, who.warm):
        wl.add(account.address, sender=who.compliance)
    w3.provider.make_request("evm_increaseTime", [2])
    w3.provider.make_request("anvil_mine", ["0x1"])
    vault.setTier(1, who.warm.address, sender=who.admin)
    return vault


def usdt_owner(accounts: Any, chain: Any, usdt: Any) -> Any:
    """The USDT owner as an impersonated, funded account."""
    owner = usdt.owner()
    chain.provider.set_balance(owner, 10**20)
    return accounts[owner]
