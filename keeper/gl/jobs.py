"""Scheduled jobs of the EOD GL batch (registered in :data:`keeper.jobs.catalog.JOBS`).

``gl_eod`` runs at 23:55 UTC and prepares + posts the batch of its slot's date; ``gl_retry``
runs every minute and posts whatever is due (the 1, 5 and 15 minute retries). Both do nothing
when no core banking is configured (``settings.atlas_url`` empty); the client is
:func:`keeper.integrations.corebanking.atlas_from_settings`.
"""

from __future__ import annotations

import logging
from contextlib import closing

from keeper.gl.service import GLBatches, GLBatchState
from keeper.integrations.corebanking import atlas_from_settings
from keeper.jobs.scheduler import JobRun

log = logging.getLogger("keeper.gl")


def end_of_day(run: JobRun) -> GLBatchState | None:
    """Prepare and post the GL batch of the slot's business date (UTC)."""
    bank = atlas_from_settings(run.host.settings)
    if bank is None:
        log.info("no core banking configured: no GL batch for %s", run.slot.date())
        return None
    with closing(bank):
        return GLBatches(run.host.ledger.engine, bank, run.host.ledger.raise_alert).run(
            run.slot.date())


def retry_due(run: JobRun) -> int:
    """Post every GL batch whose retry is due; returns how many were tried."""
    bank = atlas_from_settings(run.host.settings)
    if bank is None:
        return 0
    with closing(bank):
        return len(GLBatches(run.host.ledger.engine, bank, run.host.ledger.raise_alert).post_due())
