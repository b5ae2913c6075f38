"""The scheduled rebalancing job (registered in :data:`keeper.jobs.catalog.JOBS`).

``treasury_rebalance`` (daily, 03:00 UTC: after the daily hot -> cold sweep at 01:00 and the
weekly warm -> cold at 02:00 on Mondays, so it acts on what the sweeps leave): one
:class:`~.runner.Rebalancer` run under the slot date (``2026-11-23``). Holdings and wallet
addresses come from the tier view (:func:`keeper.treasury.tiers.current_view`, at the
follower's block), targets and bands from the tier policy, prices from ``settings.prices_file``,
the gas price from the node. Moves are carried by :class:`~.executor.ChainMoveExecutor` (Vault
sweeps out of hot with the HSM hot key, SafeTx proposals out of warm and cold) and planned only
on the routes it carries.

``settings.treasury_dry_run``, or a keeper without an HSM: the run is recorded and audited,
nothing is sent or proposed. Without a fresh price of ETH (or BTC) the fees of its moves count
as 0 (logged): plans are then ranked by units moved; the bands and minimums are unaffected.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine

from keeper.assets import BTC, ETH
from keeper.jobs.scheduler import JobRun
from keeper.treasury.moves import MoveExecutor
from keeper.treasury.rebalance.costs import CostModel
from keeper.treasury.rebalance.executor import ChainMoveExecutor, carried
from keeper.treasury.rebalance.runner import AlertFn, HoldingsProvider, Rebalancer

log = logging.getLogger("keeper.treasury.rebalance")


def build_rebalancer(settings: Any, engine: Engine, w3: Any, holdings: HoldingsProvider, *,
                     executor: MoveExecutor | None = None,
                     alert: AlertFn | None = None) -> Rebalancer:
    """A rebalancer from ``settings``: tier policy targets and bands, fees priced from the
    settings' prices and ``w3``'s gas price, the chain executor's routes."""
    from keeper.prices import PriceError, StaticPrices
    from keeper.treasury.tiers import policy_from_settings

    policy = policy_from_settings(settings)
    feed = StaticPrices.from_settings(settings)
    prices: dict[str, int] = {}
    for symbol in (ETH.symbol, BTC.symbol):
        try:
            prices[symbol] = feed.price(symbol).cents
        except PriceError as exc:
            log.warning("rebalance fees of %s count as 0: %s", symbol, exc)
            prices[symbol] = 0
    costs = CostModel(prices_cents=prices, gas_price_wei=int(w3.eth.gas_price))
    targets = {a: policy.asset(a).targets() for a in policy.assets}
    return Rebalancer(engine, holdings, targets, costs, executor,
                      dry_run=settings.treasury_dry_run, alert=alert, routes=carried)


def rebalancer_for(host: Any, *, holdings: HoldingsProvider | None = None,
                   executor: MoveExecutor | None = None) -> Rebalancer:
    """:func:`build_rebalancer` for the keeper ``host`` (holdings from its tier view unless
    ``holdings`` is given; alerts to its ledger)."""
    from keeper.treasury.tiers import current_view

    provider = holdings or (lambda: current_view(host)[1].holdings)
    return build_rebalancer(host.settings, host.ledger.engine, host.follower.reader.w3, provider,
                            executor=executor, alert=host.ledger.raise_alert)


@contextmanager
def chain_executor(host: Any, addresses: dict[str, str]) -> Iterator[ChainMoveExecutor | None]:
    """The keeper's :class:`ChainMoveExecutor` (``None`` in dry run or without an HSM); the
    HSM session is closed on exit."""
    from keeper.chain import SenderConfig, TxSender
    from keeper.flows import HOT_KEY
    from keeper.keys import Keyring
    from keeper.treasury.tiers import ProposalPlanner, SweepBook

    settings = host.settings
    if settings.treasury_dry_run or host.hsm is None:
        yield None
        return
    engine, w3 = host.ledger.engine, host.follower.reader.w3
    keyring = Keyring.from_hsm(host.hsm, labels=(HOT_KEY,))
    try:
        sender = TxSender(engine, w3, keyring, HOT_KEY, SenderConfig.from_settings(settings),
                          on_alert=host.ledger.raise_alert)
        yield ChainMoveExecutor(sender, host.follower.cfg.vault,
                                ProposalPlanner(SweepBook(engine), w3, settings.chain_id),
                                addresses)
    finally:
        keyring.close()


def treasury_rebalance(run: JobRun) -> int:
    """Plan, record, audit and hand over the day's rebalancing moves; returns how many were
    recorded. Raises (the run is recorded failed) when the executor refused a move."""
    from keeper.treasury.tiers import current_view

    host = run.host
    _, view = current_view(host)
    with chain_executor(host, view.addresses) as executor:
        rebalancer = rebalancer_for(host, holdings=lambda: view.holdings, executor=executor)
        outcome = rebalancer.run(f"{run.slot:%Y-%m-%d}")
    if outcome.failed:
        raise RuntimeError(f"{len(outcome.failed)} rebalancing move(s) not handed over: "
                           + "; ".join(f"{m.idempotency_key}: {m.error}" for m in outcome.failed))
    return len(outcome.moves)
