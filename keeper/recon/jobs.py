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
