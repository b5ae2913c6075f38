"""The scheduled rebalancing job (registered in :data:`keeper.jobs.catalog.JOBS`).

``treasury_rebalance`` (daily, 03:00 UTC: after the daily hot -> cold sweep at 01:00 and the
weekly warm -> cold at 02:00 on Mondays, so it acts on what the sweeps leave): one
:class:`~.runner.Rebalancer` run under the slot date (``2026-11-23``). Holdings come from the tier view
(:func:`keeper.treasury.tiers.current_view`, at the follower's block), targets and bands from the
tier policy, prices from ``settings.prices_file``, the gas price from the node.

No :class:`~keeper.treasury.moves.MoveExecutor` is wired into the keeper yet (see the report of
the rebalancing work): until one is passed, every run is a dry run (recorded and audited, nothing
moves), as it is with ``settings.treasury_dry_run``.
"""

from __future__ import annotations

from typing import Any

from keeper.assets import BTC, ETH
from keeper.jobs.scheduler import JobRun
from keeper.treasury.moves import MoveExecutor
from keeper.treasury.rebalance.costs import CostModel
from keeper.treasury.rebalance.runner import HoldingsProvider, Rebalancer


def rebalancer_for(host: Any, *, holdings: HoldingsProvider | None = None,
                   executor: MoveExecutor | None = None) -> Rebalancer:
    """The keeper ``host``'s rebalancer: tier policy targets, the tier view's holdings (or
    ``holdings``), fees priced from the settings' prices and the node's gas price."""
    from keeper.prices import StaticPrices
    from keeper.treasury.tiers import current_view, policy_from_settings

    settings = host.settings
    policy = policy_from_settings(settings)
    feed = StaticPrices.from_settings(settings)
    prices = {s: feed.price(s).cents for s in (ETH.symbol, BTC.symbol) if s in policy.assets}
    costs = CostModel(prices_cents=prices, gas_price_wei=int(host.follower.reader.w3.eth.gas_price))
    targets = {a: policy.asset(a).targets() for a in policy.assets}
    provider = holdings or (lambda: current_view(host, policy)[1].holdings)
    return Rebalancer(host.ledger.engine, provider, targets, costs, executor,
                      dry_run=settings.treasury_dry_run, alert=host.ledger.raise_alert)


def treasury_rebalance(run: JobRun) -> int:
    """Plan, record, audit and hand over the day's rebalancing moves; returns how many were
    recorded. Raises (the run is recorded failed) when the executor refused a move."""
    outcome = rebalancer_for(run.host).run(f"{run.slot:%Y-%m-%d}")
    if outcome.failed:
        raise RuntimeError(f"{len(outcome.failed)} rebalancing move(s) not handed over: "
                           + "; ".join(f"{m.idempotency_key}: {m.error}" for m in outcome.failed))
    return len(outcome.moves)
