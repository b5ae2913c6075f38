"""Job functions of the keeper itself (referenced by name from :data:`keeper.jobs.catalog.JOBS`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

from keeper.jobs.scheduler import JobRun

if TYPE_CHECKING:
    from keeper.flows import OrderService


def follow(run: JobRun) -> int:
    """Mirror the vault's confirmed events into the ledger; returns events applied."""
    return run.host.mirror()


def expire_holds(run: JobRun) -> int:
    """Void the two-phase holds whose expiry passed; returns how many."""
    return run.host.ledger.expire_holds()


def dispatch_alerts(run: JobRun) -> int:
    """Deliver new and due alerts on every configured channel; returns deliveries made."""
    return run.host.alerts.dispatch_once()


@contextmanager
def _orders(run: JobRun) -> Iterator[OrderService | None]:
    """The order service of :func:`keeper.flows.from_settings` for one run (withdrawals signed
    with the keeper's HSM), closed after it: each run sees the current lists and settings."""
    from keeper import flows

    host = run.host
    with ExitStack() as stack:
        yield flows.from_settings(host.settings, host.ledger.engine, host.ledger, hsm=host.hsm,
                                  resources=stack)


def flows_resume(run: JobRun) -> int:
    """Advance every unfinished order one step (:meth:`OrderService.resume`); returns how many
    changed. Without core banking and issuer configured there are no orders to drive."""
    with _orders(run) as orders:
        return 0 if orders is None else orders.resume()


def flows_eod_burns(run: JobRun) -> int:
    """Redeem the day's completed sells (one burn order per asset, named by the slot's date, so
    a rerun redeems nothing twice); returns burn orders started."""
    with _orders(run) as orders:
        return 0 if orders is None else len(orders.run_eod_burns(run.slot.date().isoformat()))


def chain_sender_tick(run: JobRun) -> int:
    """One pass of the HSM sender (receipts, re-broadcasts, fee bumps, stuck alerts), then pay
    the queued withdrawals past their eta; returns transactions followed plus orders moved."""
    with _orders(run) as orders:
        if orders is None or orders.sender is None:
            return 0
        payer = orders.sender
        followed = len(payer.sender.tick())
        if payer.issuance is not None:  # the issuance key's deposits: bumped and followed too
            followed += len(payer.issuance.tick())
        return followed + orders.settle_queued()
