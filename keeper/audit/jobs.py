"""Scheduled job of the audit trail (registered in :data:`keeper.jobs.catalog.JOBS`)."""

from __future__ import annotations

from keeper.audit.trail import anchor
from keeper.jobs.scheduler import JobRun
from keeper.keys.hsm import AUDIT_ANCHOR_KEY, HsmSigner


def anchor_head(run: JobRun) -> int:
    """Sign the chain's head with the HSM's ``audit-anchor`` key into ``settings.audit_anchors``;
    returns the anchored seq. A chain that fails verification is refused (``AnchorError``), and a
    keeper started without an HSM fails the job (and so escalates) rather than skip anchoring."""
    host = run.host
    if host.hsm is None:
        raise RuntimeError("no HSM configured: the audit chain head cannot be anchored")
    path = host.settings.audit_anchors
    path.parent.mkdir(parents=True, exist_ok=True)
    signer = HsmSigner(host.hsm, AUDIT_ANCHOR_KEY)
    try:
        return anchor(host.ledger.engine, signer, path).seq
    finally:
        signer.close()
