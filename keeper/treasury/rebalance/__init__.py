"""keeper.treasury.rebalance: the rebalancer (FR-008, SC-007) and its simulation.

Public surface:

* :func:`plan_rebalance` / :class:`RebalancePlan` / :class:`AssetDecision` /
  :class:`PlannedMove` / :class:`Binding` / :class:`Hysteresis` (pure planning, :mod:`.plan`),
  :func:`apply_moves`, :func:`drift_bps`;
* :class:`CostModel` / :class:`TaxImpact` / :func:`requires_quorum` (:mod:`.costs`);
* :class:`Rebalancer` / :class:`RunOutcome` / :class:`MoveOutcome` (a run: plan once per key,
  record and audit, hand each move to a :class:`~keeper.treasury.moves.MoveExecutor`,
  :mod:`.runner`); :class:`ChainMoveExecutor` (Vault sweeps out of hot, SafeTx proposals out
  of warm and cold; :func:`carried` its routes; :class:`UnsupportedMoveError`,
  :mod:`.executor`); :func:`~.jobs.rebalancer_for` a keeper host and the job
  ``treasury_rebalance`` (:mod:`.jobs`);
* :func:`allocation_gaps` / :class:`AllocationGap`: the value gaps across assets a trading
  router (the trading issue, not built yet) will close (:mod:`.allocation`);
* the simulation behind ``bench/rebalance.py``: :mod:`.simulate`;
* CLI ``python -m keeper.treasury.rebalance plan|decisions`` (the plan a run would make now,
  recording nothing; each asset's last decision).
"""

from keeper.treasury.moves import drift_bps
from keeper.treasury.rebalance.allocation import AllocationGap, allocation_gaps
from keeper.treasury.rebalance.costs import CostModel, TaxImpact, requires_quorum
from keeper.treasury.rebalance.executor import ChainMoveExecutor, UnsupportedMoveError, carried
from keeper.treasury.rebalance.plan import (
    AssetDecision,
    Binding,
    Hysteresis,
    PlannedMove,
    RebalancePlan,
    apply_moves,
    plan_rebalance,
)
from keeper.treasury.rebalance.runner import REFUSED_ALERT, MoveOutcome, Rebalancer, RunOutcome

__all__ = [
    "REFUSED_ALERT", "AllocationGap", "AssetDecision", "Binding", "ChainMoveExecutor",
    "CostModel", "Hysteresis", "MoveOutcome", "PlannedMove", "RebalancePlan", "Rebalancer",
    "RunOutcome", "TaxImpact", "UnsupportedMoveError", "allocation_gaps", "apply_moves",
    "carried", "drift_bps", "plan_rebalance", "requires_quorum",
]
