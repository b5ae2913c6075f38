"""Scheduled jobs of compliance (registered in :data:`keeper.jobs.catalog.JOBS`).

* ``compliance_rescreen`` (daily): every client that is not closed, with its name and profile
  country (:func:`keeper.clients.list_profiles`), against the current version of every sanctions
  list; each hit becomes one ``compliance_rescreen_hit`` alert per client and day (the list
  entry and score, never the client's name).
* ``compliance_sar_deadlines`` (daily): one ``sar_deadline`` alert per SAR draft due within the
  warning window or overdue, per day (:func:`check_sar_deadlines`).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from keeper.clients import list_profiles
from keeper.compliance.reports import check_sar_deadlines
from keeper.compliance.screening.rescreen import ClientRecord, rescreen
from keeper.compliance.screening.screener import Screener
from keeper.compliance.screening.store import ListStore
from keeper.jobs.scheduler import JobRun

RESCREEN_ALERT = "compliance_rescreen_hit"
SAR_ALERT = "sar_deadline"


def clients_to_screen(engine: Any) -> list[ClientRecord]:
    """Every client that is not closed, as screening sees it (id, name, profile country)."""
    return [ClientRecord(cid, name, profile.country)
            for cid, name, profile in list_profiles(engine) if profile.status != "closed"]


def daily_rescreen(run: JobRun) -> int:
    """Re-screen every client against the current lists; returns the number of hits."""
    host = run.host
    engine = host.ledger.engine
    hits = rescreen(clients_to_screen(engine), Screener(ListStore(engine).current_all()))
    day = run.slot.date().isoformat()
    for hit in hits:
        best = max(hit.result.matches, key=lambda m: m.score)
        host.ledger.raise_alert(
            RESCREEN_ALERT,
            f"client {hit.client_id}: {hit.result.decision.name} on {best.list_name}@v"
            f"{best.list_version} entry {best.entry.uid} (score {best.score:.0f})",
            f"rescreen:{day}:{hit.client_id}")
    return len(hits)


def sar_deadlines(run: JobRun) -> int:
    """Alert every SAR draft near or past its 30-day deadline; returns how many."""
    host = run.host
    day = run.slot.date().isoformat()

    def alert(subject: str, body: str) -> None:
        host.ledger.raise_alert(SAR_ALERT, body, f"sar:{day}:{subject}")

    return len(check_sar_deadlines(host.ledger.engine, run.slot.astimezone(UTC)
                                   if run.slot.tzinfo else run.slot.replace(tzinfo=UTC), alert))
