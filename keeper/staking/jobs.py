"""Scheduled job of the staking domain (registered in :data:`keeper.jobs.catalog.JOBS`):
``staking_sync`` drives unfinished operations (receipts, retries once a pause lifts) and
mirrors the pool's confirmed events (distributions) into the ledger. Nothing without a
deployed pool or an HSM."""

from __future__ import annotations

import logging
from contextlib import ExitStack

from keeper.jobs.scheduler import JobRun
from keeper.staking.wiring import from_settings

log = logging.getLogger("keeper.staking")


def sync(run: JobRun) -> int:
    """One pass: resume operations, then mirror; returns the events applied."""
    host = run.host
    if host.hsm is None:
        return 0
    with ExitStack() as stack:
        staking = from_settings(host.settings, host.ledger, host.follower.reader.w3, stack,
                                hsm=host.hsm)
        if staking is None:
            return 0
        assert staking.service is not None  # noqa: S101 - built with the HSM
        staking.service.resume()
        return staking.mirror.sync().events
