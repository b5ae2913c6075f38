"""Deploying and configuring the local staking pool (``contracts/staking/StakingPool.vy``).

:func:`deploy_staking_pool` is what ``scripts/deploy.py`` calls on the fork: the deployer holds
ADMIN only while it sets the reward rate, then hands ADMIN to ``admin`` (the Timelock) and
renounces every role, so no deployer key keeps any power over the pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keeper.roles import StakingRole

DAY = 86_400


@dataclass(frozen=True)
class PoolConfig:
    """The pool's roles and periods (seconds) and its reward rate (wei per epoch)."""

    admin: str  # ADMIN: the Timelock (reward rate, roles; moves no ETH)
    rewarder: str  # REWARDER: funds the reserve (the protocol's reward distributor)
    slasher: str  # SLASHER: the protocol's slashing oracle
    guardian: str  # GUARDIAN: emergency pause
    slash_sink: str  # where slashed ETH goes (fixed)
    epoch_length: int = DAY
    lockup: int = 7 * DAY
    unbonding: int = 3 * DAY
    reward_per_epoch: int = 0


def constructor_args(deployer: str, config: PoolConfig) -> list[Any]:
    """``StakingPool``'s constructor arguments: the deployer is the first ADMIN (it configures
    the pool, then hands ADMIN over in :func:`configure_staking_pool`)."""
    return [deployer, config.rewarder, config.slasher, config.guardian, config.slash_sink,
            config.epoch_length, config.lockup, config.unbonding]


def configure_staking_pool(pool: Any, deployer: Any, config: PoolConfig) -> int:
    """Set the reward rate, give ADMIN to ``config.admin`` and renounce the deployer's roles;
    does nothing once the deployer holds no role (idempotent). Returns transactions sent."""
    if not pool.roles(deployer.address):
        return 0
    sent = 0
    if config.reward_per_epoch and pool.reward_per_epoch() != config.reward_per_epoch:
        pool.setRewardPerEpoch(config.reward_per_epoch, sender=deployer)
        sent += 1
    if config.admin.lower() != deployer.address.lower():
        pool.setRoles(config.admin, pool.roles(config.admin) | StakingRole.ADMIN, sender=deployer)
        pool.renounceRoles(sender=deployer)
        sent += 2
    return sent


def deploy_staking_pool(project: Any, deployer: Any, config: PoolConfig) -> Any:
    """Deploy ``StakingPool`` with ``deployer`` (an ape account) and configure it
    (:func:`configure_staking_pool`); returns the ape contract."""
    pool = project.StakingPool.deploy(*constructor_args(deployer.address, config),
                                      sender=deployer)
    configure_staking_pool(pool, deployer, config)
    return pool
