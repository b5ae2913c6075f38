"""Scheduled jobs of the tiers (registered in :data:`keeper.jobs.catalog.JOBS`).

* ``treasury_tier_check`` (hourly): the tier view at the follower's block, audited
  (``treasury.tier_view``), and the hot-ceiling alert (once per crossing);
* ``treasury_sweep_daily``: the day's hot -> cold sweeps (:class:`HotSweeper`, HSM key
  ``eth-hot``), one per asset and day (the slot's date);
* ``treasury_sweep_weekly``: the week's warm -> cold moves planned as warm-Multisig SafeTxs for
  the warm owners to sign (:class:`ProposalPlanner`), one per asset and ISO week.

``settings.treasury_dry_run``: plans are recorded and audited, nothing is sent or proposed.
The deployed vault and its governance-set tier addresses come from the deployments record; BTC
wallets are not wired to the keeper's settings yet (the view takes them when given).
"""

from __future__ import annotations

from typing import Any

from keeper.audit import record_in
from keeper.jobs.scheduler import JobRun
from keeper.ledger import ledger_totals
from keeper.ledger.db import WRITE
from keeper.prices import PriceError, StaticPrices
from keeper.treasury.tiers.book import ACTOR, SweepBook
from keeper.treasury.tiers.ceiling import check_hot_ceiling
from keeper.treasury.tiers.policy import TierPolicy, policy_from_settings
from keeper.treasury.tiers.proposals import ProposalPlanner, weekly_moves
from keeper.treasury.tiers.sweeps import HotSweeper
from keeper.treasury.tiers.view import TierView, evm_locations, tier_view

UNPRICED_ALERT = "treasury_tier_unpriced"
CURSOR = "vault"  # the follower's cursor: the view is read at the block the ledger reached


def view_at(settings: Any, engine: Any, reader: Any, vault: str,
            policy: TierPolicy | None = None) -> tuple[TierPolicy, TierView]:
    """The policy (``settings.treasury_policy_file`` unless given) and the tier view of
    ``vault`` read through ``reader`` (a :class:`keeper.chain.reader.ChainReader`) at the block
    the follower's ledger figures reached (the head before the follower's first range),
    cross-checked with the sub-ledger on ``engine``."""
    policy = policy or policy_from_settings(settings)
    block = ledger_totals(engine).cursors.get(CURSOR) or reader.head()
    locations = evm_locations(reader.w3, vault, block)
    view = tier_view(policy, StaticPrices.from_settings(settings), reader=reader, block=block,
                     evm=locations, ledger=engine)
    return policy, view


def current_view(host: Any, policy: TierPolicy | None = None) -> tuple[TierPolicy, TierView]:
    """:func:`view_at` for the keeper ``host`` (its settings, ledger, follower and vault)."""
    return view_at(host.settings, host.ledger.engine, host.follower.reader,
                   host.follower.cfg.vault, policy)


def treasury_tier_check(run: JobRun) -> bool:
    """Audit the tier view and alert if the hot tier crossed its ceiling; returns whether it
    alerted. Without a fresh price for a hot asset the run fails after one
    ``treasury_tier_unpriced`` alert a day."""
    host = run.host
    policy, view = current_view(host)
    with host.ledger.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        record_in(conn, ACTOR, "treasury.tier_view", {"slot": run.slot.isoformat()},
                  view.to_json())
    try:
        return check_hot_ceiling(host.ledger.engine, view, policy, host.ledger.raise_alert)
    except PriceError as exc:  # blind: say so now, not after the failure streak escalates
        host.ledger.raise_alert(UNPRICED_ALERT, f"treasury tier check at block {view.block}: "
                                f"{exc}", f"{UNPRICED_ALERT}:{run.slot:%Y-%m-%d}")
        raise


def treasury_sweep_daily(run: JobRun) -> int:
    """The slot day's hot -> cold sweeps; returns how many were sent (or planned, dry run)."""
    from keeper.chain import SenderConfig, TxSender
    from keeper.flows import HOT_KEY
    from keeper.keys import Keyring

    host = run.host
    if host.hsm is None:
        raise RuntimeError("no HSM configured: the daily sweep cannot be sent")
    policy, view = current_view(host)
    settings = host.settings
    keyring = Keyring.from_hsm(host.hsm, labels=(HOT_KEY,))
    try:
        sender = TxSender(host.ledger.engine, host.follower.reader.w3, keyring, HOT_KEY,
                          SenderConfig.from_settings(settings), on_alert=host.ledger.raise_alert)
        sweeper = HotSweeper(SweepBook(host.ledger.engine), sender, host.follower.cfg.vault,
                             alert=host.ledger.raise_alert, dry_run=settings.treasury_dry_run)
        outcomes = sweeper.run(view, policy, run.slot.date())
    finally:
        keyring.close()
    return sum(o.status in ("sent", "dry_run") for o in outcomes)


def treasury_sweep_weekly(run: JobRun) -> int:
    """Plan the week's warm -> cold SafeTxs of the warm Multisig; returns how many."""
    host = run.host
    policy, view = current_view(host)
    warm, cold = view.addresses.get("warm_multisig"), view.addresses.get("cold_multisig")
    if warm is None or cold is None:
        return 0
    year, week, _ = run.slot.isocalendar()
    from keeper.safetx import SafeChain, SafeTxService

    service = SafeTxService(host.ledger.engine, SafeChain(host.settings.rpc_url,
                                                          host.settings.chain_id))
    planner = ProposalPlanner(SweepBook(host.ledger.engine), host.follower.reader.w3,
                              host.settings.chain_id, service=service)
    plans = [planner.warm_to_cold(f"weekly:{year}-W{week:02d}:{m.asset}", m, warm, cold,
                                  dry_run=host.settings.treasury_dry_run)
             for m in weekly_moves(view, policy)]
    return len(plans)
