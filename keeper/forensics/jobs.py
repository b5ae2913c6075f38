"""Scheduled jobs of forensics (registered in :data:`keeper.jobs.catalog.JOBS`).

* ``forensics_mirror`` (every 2 s): :class:`~keeper.forensics.mirror.TransferMirror` over the
  keeper's node (the follower's) for the deployment's tokens, from its start block, at the head
  (setting ``forensics_confirmations``, default 0: a chain event is judged seconds after its
  block, where the ledger's 12 confirmations would take 2.5 minutes; a reorged block is
  repaired by the mirror, and what was detected on it stays detected: it did happen on a
  branch);
* ``forensics_prune`` (daily): mirrored movements older than ``forensics_retention_days``
  (default 400) deleted;
* ``forensics_detect`` (every second): one :class:`~keeper.forensics.pipeline.AnomalyPipeline`
  pass over the mirror, the ledger's deposits and the audit trail, alerts raised through the
  ledger's alert outbox. The pipeline (and its loaded state) is kept per keeper process; fan-in
  ignores our own wallets (vault and tiers), the partners' deposit addresses
  (:func:`keeper.partners.deposit_addresses`) and exchanges (labels re-read every ten minutes,
  :func:`known_labels`).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any
from weakref import WeakKeyDictionary

from keeper.chain import ChainReader, RpcError
from keeper.forensics.detectors import Detector, default_detectors
from keeper.forensics.events import AuditSource, ChainSource, LedgerSource
from keeper.forensics.mirror import MirrorConfig, TransferMirror, prune_transfers
from keeper.forensics.pipeline import AnomalyPipeline
from keeper.forensics.trace import AddressLabels, known_labels
from keeper.jobs.scheduler import JobRun

MAX_STEPS = 20  # ranges per run: a long catch-up spreads over runs
COLLECTOR_LABELS = ("own", "partner", "exchange")
LABELS_REFRESH_S = 600.0
_PIPELINES: WeakKeyDictionary[Any, tuple[AnomalyPipeline, float]] = WeakKeyDictionary()
log = logging.getLogger(__name__)


def mirror(run: JobRun) -> int:
    """Mirror the chain's confirmed value movements; returns movements stored."""
    follower = run.host.follower
    cfg = MirrorConfig(tokens=follower.cfg.tokens, start_block=follower.cfg.start_block,
                       confirmations=run.host.settings.forensics_confirmations)
    reader = ChainReader(follower.w3)  # its own: the follower's reader runs in another job
    return TransferMirror(run.host.ledger.engine, reader, cfg).run_until_synced(MAX_STEPS)


def prune(run: JobRun) -> int:
    """Delete mirrored movements older than the retention; returns how many."""
    days = run.host.settings.forensics_retention_days
    return prune_transfers(run.host.ledger.engine, run.slot - timedelta(days=days))


def own_wallets(host: Any) -> dict[str, str]:
    """Our own addresses by name: the followed vault and its tier wallets as the node reports
    them now (none when it cannot answer: they are then simply not excepted)."""
    follower = host.follower
    own = {follower.cfg.vault: "vault"}
    try:
        own |= {a: f"tier{t}" for a, t in ChainReader(follower.w3).tier_addresses(
            follower.cfg.vault).items()}
    except (RpcError, ValueError) as exc:
        log.info("tier wallets unknown for now (%s)", exc)
    return own


def detectors(labels: AddressLabels) -> list[Detector]:
    """The keeper's detectors, fan-in and peel chains ignoring the addresses labelled
    :data:`COLLECTOR_LABELS` (ours, partners', exchanges')."""
    return default_detectors(frozenset(labels.having(COLLECTOR_LABELS)))


def pipeline_for(host: Any, now: float | None = None) -> AnomalyPipeline:
    """The keeper ``host``'s pipeline (built once per process; its labels, and so the wallets
    fan-in ignores, re-read every :data:`LABELS_REFRESH_S`)."""
    now = time.monotonic() if now is None else now
    built = _PIPELINES.get(host)
    if built is not None and now - built[1] < LABELS_REFRESH_S:
        return built[0]
    engine = host.ledger.engine
    judges = detectors(known_labels(engine, own_wallets(host)))
    if built is None:
        pipe = AnomalyPipeline(engine, [ChainSource(engine), LedgerSource(engine),
                                        AuditSource(engine)], judges, host.ledger.raise_alert)
    else:
        pipe = built[0]
        pipe.detectors = judges  # same names: the persisted state carries over
    _PIPELINES[host] = (pipe, now)
    return pipe


def detect(run: JobRun) -> int:
    """One anomaly pipeline pass; returns alerts stored."""
    return len(pipeline_for(run.host).run_once())
