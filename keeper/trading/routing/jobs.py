"""The routing job (registered in :data:`keeper.jobs.catalog.JOBS`): ``trading_routing_resume``
resumes every parent left ``routing`` or ``unresolved`` (a crashed router's, or one whose child
is waiting for its venue to answer a look-up by client order id).

The venues come from the venue registry file (``keeper.trading.venues.load_registry``: id, URL,
0600 API key file under ``secrets_dir``, latency estimate) named by the setting
``trading_venues_file``; without it the job does nothing. The execution policy is the
jurisdiction rules (``keeper.trading.jurisdiction.JurisdictionPolicy``) of the file named by
``trading_jurisdiction_rules_file``.

After each resume the fills of the parents it settled, and of every parent finished in the last
:data:`keeper.trading.desk.RESUME_LOOKBACK_MS` whose fills are not in the tax lots yet (a desk
that crashed between routing and the lots), are recorded in the clients' tax lots
(:class:`keeper.trading.desk.TradingDesk`; idempotent: fills already there change nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from keeper.jobs.scheduler import JobRun
from keeper.trading.jurisdiction import JurisdictionPolicy, load_rules
from keeper.trading.routing.router import RoutedVenue, Router
from keeper.trading.routing.store import RoutingStore
from keeper.trading.venues import load_registry, open_venues

log = logging.getLogger("keeper.trading.routing")


def router_from_settings(settings: Any, engine: Engine,
                         alert: Callable[[str, str, str], object]) -> Router | None:
    """A router over the registry's venues, or None when no registry is configured
    (``settings.trading_venues_file`` empty or absent). Close it with :func:`close_router`."""
    path = settings.trading_venues_file
    if not path:
        return None
    configs = load_registry(Path(path), Path(settings.secrets_dir))
    clients = open_venues(configs)
    return Router(RoutingStore(engine), {c.id: RoutedVenue(clients[c.id]) for c in configs},
                  JurisdictionPolicy(load_rules(settings.trading_jurisdiction_rules_file)), alert)


def close_router(router: Router) -> None:
    """Close the router's venue clients (their connection pools)."""
    for rv in router.venues.values():
        close = getattr(rv.client, "close", None)
        if callable(close):
            close()


def resume(run: JobRun) -> int:
    """Resume every unfinished parent and record the fills of those done in the tax lots;
    returns how many parents were resumed. (The job's runs are audited by ``keeper.jobs``; the
    desk here writes no audit records of its own.)"""
    from keeper.trading.desk import RESUME_LOOKBACK_MS, TradingDesk  # builds on this module

    desk = TradingDesk.from_settings(run.host.settings, run.host.ledger.engine,
                                     run.host.ledger.raise_alert, audit=None, catch_up_ms=None)
    if desk is None:
        return 0
    try:
        done = desk.router.resume()
        desk.book_executions(done)
        desk.book_finished(desk.clock() - RESUME_LOOKBACK_MS)
    finally:
        desk.close()
    if done:
        log.info("routing resumed %d parent(s): %s", len(done),
                 ", ".join(f"{ex.parent.id}={ex.status}" for ex in done))
    return len(done)
