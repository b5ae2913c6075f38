"""keeper.treasury.rebalance: the rebalancer (FR-008, SC-007) and its simulation.

Public surface:

* :func:`plan_rebalance` / :class:`RebalancePlan` / :class:`AssetDecision` /
  :class:`PlannedMove` / :class:`Binding` / :class:`Hysteresis` (pure planning, :mod:`.plan`),
  :func:`apply_moves`, :func:`drift_bps`;
* :class:`CostModel` / :class:`TaxImpact` / :func:`requires_quorum` (:mod:`.costs`).
"""

from keeper.treasury.rebalance.costs import CostModel, TaxImpact, requires_quorum
from keeper.treasury.rebalance.plan import (
    AssetDecision,
    Binding,
    Hysteresis,
    PlannedMove,
    RebalancePlan,
    apply_moves,
    drift_bps,
    plan_rebalance,
)

__all__ = [
    "AssetDecision", "Binding", "CostModel", "Hysteresis", "PlannedMove", "RebalancePlan",
    "TaxImpact", "apply_moves", "drift_bps", "plan_rebalance", "requires_quorum",
]
