"""keeper.treasury.tiers: the tier policy, the tier view, sweeps and the hot-ceiling alert.

Public surface:

* policy: :func:`load_policy` / :func:`policy_from_settings` -> :class:`TierPolicy`
  (:class:`PolicyError` on a bad file);
* view: :func:`tier_view` -> :class:`TierView` (``.holdings``: ``list[Holding]``, the
  rebalancer's input; shares, drift, AUM in cents, ledger mismatches), located by
  :func:`evm_locations` (vault + governance-set tier addresses) and :class:`BtcLocation`;
  :func:`view_at` (settings, database, chain reader, vault) and :func:`current_view` (a running
  keeper) return ``(policy, view)``; CLI ``python -m keeper.treasury.tiers view``;
* sweeps: :class:`HotSweeper` (daily hot -> cold through the chain sender), :class:`BtcSweeper`
  (daily BTC hot -> cold as a PSBT the cosigners sign), :func:`daily_moves`,
  :func:`excess`; :class:`ProposalPlanner` (weekly warm -> cold and cold -> hot top-ups as
  SafeTxs for the owners), :func:`weekly_moves`; :class:`SweepBook` (the planned moves);
* :func:`check_hot_ceiling` (one alert per crossing).
"""

from keeper.treasury.tiers.book import Planned, SweepBook
from keeper.treasury.tiers.btc import BtcSweeper
from keeper.treasury.tiers.ceiling import CEILING_ALERT, check_hot_ceiling
from keeper.treasury.tiers.jobs import current_view, view_at
from keeper.treasury.tiers.models import SweepStatus
from keeper.treasury.tiers.policy import (
    AssetPolicy,
    PolicyError,
    TierPolicy,
    load_policy,
    parse_policy,
    policy_from_settings,
)
from keeper.treasury.tiers.proposals import (
    TOPUP_CLIENT_REF,
    PlannedProposal,
    ProposalPlanner,
    weekly_moves,
)
from keeper.treasury.tiers.sweeps import (
    REFUSED_ALERT,
    HotSweeper,
    SweepOutcome,
    daily_moves,
    excess,
    sweep_data,
)
from keeper.treasury.tiers.view import (
    AssetTiers,
    BtcLocation,
    EvmLocation,
    Mismatch,
    TierView,
    evm_locations,
    tier_view,
)

__all__ = [
    "CEILING_ALERT", "REFUSED_ALERT", "TOPUP_CLIENT_REF", "AssetPolicy", "AssetTiers",
    "BtcLocation", "BtcSweeper", "EvmLocation", "HotSweeper", "Mismatch", "Planned", "PlannedProposal",
    "PolicyError", "ProposalPlanner", "SweepBook", "SweepOutcome", "SweepStatus", "TierPolicy",
    "TierView", "check_hot_ceiling", "current_view", "daily_moves", "evm_locations", "excess",
    "load_policy", "parse_policy", "policy_from_settings", "sweep_data", "tier_view",
    "view_at", "weekly_moves",
]
