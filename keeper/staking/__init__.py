"""Staking and yield (issue 16): client positions in the local staking pool
(``contracts/staking/StakingPool.vy``), rewards distributed pro rata in the sub-ledger.

Public surface:

* the pool's interface (:mod:`keeper.staking.pool`): :class:`StakingRole`, calldata, the event
  decoder, the rounding rules :func:`share_value` / :func:`queue_value` and :func:`allocate`;
* the ledger's account names (:func:`staking_location`, :func:`staked_owner`,
  :func:`remainder_owner`, :func:`operator_location`);
* :class:`StakingService` (deposit / request_withdrawal / claim through ``TxSender``, resume),
  :class:`StakingRefused`, :class:`Mirror` (events -> ledger, exactly once),
  :func:`positions` (read view), :func:`from_settings` and :data:`STAKING_KEY`;
* :func:`deploy_staking_pool` (= :func:`constructor_args` + :func:`configure_staking_pool`) /
  :class:`PoolConfig` (deployment on the fork);
* :func:`upgrade` (the ``staking_*`` schema).
"""

from keeper.roles import StakingRole
from keeper.staking.book import operator_location, remainder_owner, staked_owner, staking_location
from keeper.staking.deploy import (
    PoolConfig,
    configure_staking_pool,
    constructor_args,
    deploy_staking_pool,
)
from keeper.staking.migrate import upgrade
from keeper.staking.mirror import Mirror, SyncResult
from keeper.staking.pool import allocate, queue_value, share_value
from keeper.staking.reports import positions
from keeper.staking.service import FAILED_ALERT, WAITING_ALERT, OpState, StakingRefused, StakingService
from keeper.staking.wiring import STAKING_KEY, from_settings

__all__ = ["FAILED_ALERT", "STAKING_KEY", "WAITING_ALERT", "Mirror", "OpState", "PoolConfig",
           "StakingRefused", "StakingRole", "StakingService", "SyncResult", "allocate",
           "configure_staking_pool", "constructor_args", "deploy_staking_pool", "from_settings",
           "operator_location", "positions", "queue_value", "remainder_owner", "share_value",
           "staked_owner", "staking_location", "upgrade"]
