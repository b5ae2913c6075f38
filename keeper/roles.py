"""Role bit flags of every Strongroom contract: the one Python home for them.

Vault, Whitelist and Escrow share the role module `contracts/modules/access.vy` (a role set is a
uint256 of bits; ADMIN = 1 everywhere) and expose each bit as a public constant; Timelock keeps
its own `flag Roles`. tests/contracts/test_roles.py checks these values against the compiled
contracts, so a contract change that moves a bit fails there rather than in production.
"""

from __future__ import annotations

from enum import IntFlag


class VaultRole(IntFlag):
    """contracts/Vault.vy role bits."""

    ADMIN = 1
    COMPLIANCE_OFFICER = 2
    TREASURY = 4
    PAUSER = 8
    CUSTOMER = 16
    PRICER = 32
    SWEEPER = 64  # Vault.sweep to TIER_COLD only (the keeper's automated daily sweep)


class WhitelistRole(IntFlag):
    """contracts/Whitelist.vy role bits."""

    ADMIN = 1
    COMPLIANCE_OFFICER = 2


class EscrowRole(IntFlag):
    """contracts/Escrow.vy role bits."""

    ADMIN = 1
    ORACLE = 2
    COMPLIANCE_OFFICER = 4


class TimelockRole(IntFlag):
    """contracts/Timelock.vy `flag Roles` (declaration order)."""

    PROPOSER = 1
    EXECUTOR = 2
    CANCELLER = 4


class StakingRole(IntFlag):
    """contracts/staking/StakingPool.vy role bits (ADMIN is the shared module's bit 1)."""

    ADMIN = 1
    REWARDER = 2  # funds the reward reserve, nothing else
    SLASHER = 4  # bounded slash to the fixed sink, once per epoch
    GUARDIAN = 8  # pause


# Contract name -> its role flags (what tests/contracts/test_roles.py checks).
ROLES_BY_CONTRACT: dict[str, type[IntFlag]] = {
    "Vault": VaultRole,
    "Whitelist": WhitelistRole,
    "Escrow": EscrowRole,
    "Timelock": TimelockRole,
    "StakingPool": StakingRole,
}
