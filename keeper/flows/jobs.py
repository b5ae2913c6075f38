"""Job functions of the flows package (referenced by name from :data:`keeper.jobs.catalog.JOBS`)."""

from __future__ import annotations

from datetime import timedelta

from keeper.flows.outbox import prune_outbox
from keeper.jobs.scheduler import JobRun


def prune(run: JobRun) -> int:
    """Delete the flows outbox rows relayed longer ago than the retention (the setting
    ``flows_outbox_retention_days``); returns how many."""
    retention = timedelta(days=run.host.settings.flows_outbox_retention_days)
    return prune_outbox(run.host.ledger.engine, retention=retention, now=run.slot)
