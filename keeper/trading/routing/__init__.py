"""Smart order routing (FR-018): split a parent order across venues by depth, fees and latency
for the best all-in price, within per-venue limits and balances, every child checked by the
execution policy before it is sent; venues whose prices are stale or far from the others'
consensus are excluded (one alert per episode); a venue failing mid-order is dropped and the
remainder re-routed; everything persisted so a restart resumes without losing or repeating a fill.

Public surface:

* :class:`Router` (``route(parent) -> Execution``, ``execution(parent_id)``, ``resume()``),
  :data:`LEASE_MS`, :class:`RoutedVenue`,
  :class:`RoutingStore` (the ``trading_routing_*`` tables), :func:`lookup_by_client_id`;
* the pure planner: :func:`plan`, :class:`VenueInput`, :class:`Plan`, :class:`PlannedChild`,
  :class:`RoutingCosts`, :func:`best_single_venue`, :func:`single_venue_costs`,
  :class:`SingleVenueCost`, :func:`walk`, :func:`all_in`, :func:`saving`;
* price consensus: :func:`check_consensus`, :class:`ConsensusRules`, :class:`Consensus`,
  :class:`Exclusion`, :func:`mid_of`;
* what an execution reports: :class:`Execution`, :class:`Arrival`, :class:`Decision`,
  :class:`PolicyBlock`, :class:`ChildRecord`, :class:`RoundExclusion`, :class:`ParentStatus`,
  :class:`ChildStatus`.
"""

from keeper.trading.routing.consensus import (
    PRICE_REASONS,
    Consensus,
    ConsensusRules,
    Exclusion,
    mid_of,
)
from keeper.trading.routing.consensus import check as check_consensus
from keeper.trading.routing.execution import (
    Arrival,
    ChildRecord,
    Decision,
    Execution,
    PolicyBlock,
    RoundExclusion,
)
from keeper.trading.routing.models import ChildStatus, ParentStatus
from keeper.trading.routing.planner import (
    Plan,
    PlannedChild,
    RoutingCosts,
    SingleVenueCost,
    VenueInput,
    all_in,
    best_single_venue,
    plan,
    saving,
    single_venue_costs,
    walk,
)
from keeper.trading.routing.router import (
    LEASE_MS,
    OrderRefusedError,
    RoutedVenue,
    Router,
    lookup_by_client_id,
)
from keeper.trading.routing.store import ParentMismatchError, RoutingStore

__all__ = [
    "LEASE_MS", "PRICE_REASONS", "Arrival", "ChildRecord", "ChildStatus", "Consensus",
    "ConsensusRules", "Decision",
    "Exclusion", "Execution", "OrderRefusedError", "ParentMismatchError", "ParentStatus", "Plan",
    "PlannedChild",
    "PolicyBlock", "RoundExclusion", "RoutedVenue", "Router", "RoutingCosts", "RoutingStore",
    "SingleVenueCost", "VenueInput", "all_in", "best_single_venue", "check_consensus",
    "lookup_by_client_id", "mid_of", "plan", "saving", "single_venue_costs", "walk",
]
