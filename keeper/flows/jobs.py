"""Job functions of the flows package (referenced by name from :data:`keeper.jobs.catalog.JOBS`)."""

from __future__ import annotations

from datetime import timedelta

from keeper.flows.outbox import DEFAULT_RETENTION, prune_outbox
from keeper.jobs.scheduler import JobRun


def prune(run: JobRun) -> int:
    """Delete the flows outbox rows relayed longer ago than the retention (the setting
    ``flows_outbox_retention_days`` when there is one, else 30 days); returns how many."""
    days = getattr(run.host.settings, "flows_outbox_retention_days", None)
    retention = DEFAULT_RETENTION if days is None else timedelta(days=int(days))
    return prune_outbox(run.host.ledger.engine, retention=retention, now=run.slot)
