"""keeper.treasury.pooling: consolidated pooling of many wallets into operational wallets (never
below a wallet's minimum), BTC consolidation PSBTs, and the custody topology policy.

Public surface:

* :func:`plan_pool` / :class:`PoolPlan` / :class:`PoolCosts` / :func:`operational_wallets` /
  :func:`reduction_bps` (pure planning, :mod:`.plan`);
* :class:`PoolRunner` (start a run: plan, rows and audit in one transaction; ``advance`` it from a
  job, exactly once per (run, kind, wallet, asset)), :func:`read_holdings`, :class:`DepositKeys`
  (HD deposit keys from an HSM-wrapped seed, in memory only);
* :func:`plan_consolidation` / :func:`propose_consolidation` / :class:`ConsolidationPlan` (BTC
  consolidation PSBTs through the coordinator, fee threshold and UTXO-count trade-off, :mod:`.btc`);
* :class:`Signer`, :class:`WalletTopology`, :func:`check_wallet`, :class:`WalletReport`,
  :class:`TopologyStore`, :class:`TopologyViolationError`, :func:`topology_from_json` (the
  example data in ``topology.json``) (:mod:`.topology`).
"""

from keeper.treasury.pooling.btc import (
    ConsolidationPlan,
    plan_consolidation,
    propose_consolidation,
)
from keeper.treasury.pooling.executor import (
    POOL_OWNER,
    POOL_REF,
    PoolRunner,
    read_holdings,
    register_pool_ref,
)
from keeper.treasury.pooling.keys import DepositKeys
from keeper.treasury.pooling.plan import (
    PlannedMove,
    PoolCosts,
    PoolPlan,
    Skip,
    operational_wallets,
    plan_pool,
    reduction_bps,
)
from keeper.treasury.pooling.topology import (
    Signer,
    TopologyStore,
    TopologyViolationError,
    WalletReport,
    WalletTopology,
    check_wallet,
    topology_from_json,
)

__all__ = [
    "POOL_OWNER", "POOL_REF", "ConsolidationPlan", "DepositKeys", "PlannedMove", "PoolCosts",
    "PoolPlan", "PoolRunner",
    "Signer", "Skip", "TopologyStore", "TopologyViolationError", "WalletReport", "WalletTopology",
    "check_wallet", "operational_wallets", "plan_consolidation", "plan_pool",
    "propose_consolidation", "read_holdings", "reduction_bps", "register_pool_ref",
    "topology_from_json",
]
