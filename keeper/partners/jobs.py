"""Scheduled job of partner custody (registered in :data:`keeper.jobs.catalog.JOBS`).

``partners_sync`` runs every 10 s: it syncs when a verified webhook asked for it, when the last
good sync is older than :data:`SYNC_EVERY_S`, or while the partner is in an outage (to notice the
recovery); it honours a 429's Retry-After. Nothing happens when no partner is configured.
"""

from __future__ import annotations

from contextlib import closing
from datetime import timedelta

from keeper.chain import web3_from_settings
from keeper.jobs.scheduler import JobRun
from keeper.partners.configured import partner_from_settings, whitelist
from keeper.partners.service import PartnerCustody, SyncResult
from keeper.partners.store import now

SYNC_EVERY_S = 60.0


def custody(settings: object, ledger: object, partner: object) -> PartnerCustody:
    """The custody service of the configured partner over our own node."""
    w3 = web3_from_settings(settings, timeout=30)  # rpc_url, then the fallbacks
    return PartnerCustody(ledger, partner, w3, confirmations=settings.confirmations,  # type: ignore[arg-type, attr-defined]
                          whitelist=whitelist(settings))


def due(state: dict) -> bool:
    """Whether a sync is due (requested, outage, or the last good one too old)."""
    last = state["last_ok_at"]
    return (state["requested_at"] is not None or state["outage_since"] is not None
            or last is None or now() - last >= timedelta(seconds=SYNC_EVERY_S))


def sync(run: JobRun) -> SyncResult | None:
    """Sync the configured partner when due."""
    partner = partner_from_settings(run.host.settings)
    if partner is None:
        return None
    with closing(partner):
        service = custody(run.host.settings, run.host.ledger, partner)
        if not due(service.store.state()):
            return None
        return service.sync()
