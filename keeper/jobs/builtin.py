"""Job functions of the keeper itself (referenced by name from :data:`keeper.jobs.catalog.JOBS`)."""

from __future__ import annotations

from keeper.jobs.scheduler import JobRun


def follow(run: JobRun) -> int:
    """Mirror the vault's confirmed events into the ledger; returns events applied."""
    return run.host.mirror()


def expire_holds(run: JobRun) -> int:
    """Void the two-phase holds whose expiry passed; returns how many."""
    return run.host.ledger.expire_holds()


def dispatch_alerts(run: JobRun) -> int:
    """Deliver new and due alerts on every configured channel; returns deliveries made."""
    return run.host.alerts.dispatch_once()
