"""Scheduled jobs of reconciliation (registered in :data:`keeper.jobs.catalog.JOBS`)."""

from __future__ import annotations

from typing import Any

from keeper.audit import record_in
from keeper.jobs.scheduler import JobRun
from keeper.recon.breaks import BreakBook

OVERDUE_ALERT = "recon_break_overdue"


def break_book(host: Any) -> BreakBook:
    """The keeper's break book: every run, break, resolution and breaker change is audited in
    its own transaction (:func:`keeper.audit.record_in`)."""
    return BreakBook(host.ledger.engine, audit=record_in)


def escalate_overdue(run: JobRun) -> int:
    """Raise one ``recon_break_overdue`` alert per open break past its due time (the ledger
    keeps one alert per ref, so a break escalates once); returns how many were new."""
    new = 0
    for b in break_book(run.host).overdue():
        message = (f"recon break {b.id} ({b.size_class}, {b.asset} {b.subject}) open since "
                   f"{b.created_at.isoformat()}, due {b.due_at.isoformat() if b.due_at else '-'}")
        new += bool(run.host.ledger.raise_alert(OVERDUE_ALERT, message, f"recon_overdue:{b.id}"))
    return new


def type1_hourly(run: JobRun) -> int:
    """Type 1 (sub-ledger vs chain) at the follower's block, once per hour slot (run key
    ``type1:<YYYY-MM-DDTHH>``: a restarted job gets the stored run back); returns the run id.
    Prices come from ``settings.prices_file``; the deployment's vault is always checked."""
    from keeper.prices import StaticPrices
    from keeper.recon import Reconciler

    host = run.host
    rec = Reconciler(host.ledger.engine, break_book(host), StaticPrices.from_settings(host.settings))
    vault = f"vault:{host.follower.cfg.vault.lower()}"
    return rec.run_type1(host.follower.reader, run_key=f"type1:{run.slot:%Y-%m-%dT%H}",
                         locations=[vault]).id
