"""Staking and yield (issue 16): client positions in the local staking pool
(``contracts/staking/StakingPool.vy``), rewards distributed pro rata in the sub-ledger.

Public surface: :class:`StakingRole` and the pool's interface (:mod:`keeper.staking.pool`),
:func:`deploy_staking_pool` / :class:`PoolConfig` (deployment on the fork).
"""

from keeper.staking.deploy import PoolConfig, deploy_staking_pool
from keeper.staking.pool import StakingRole, allocate, queue_value, share_value

__all__ = ["PoolConfig", "StakingRole", "allocate", "deploy_staking_pool", "queue_value",
           "share_value"]
