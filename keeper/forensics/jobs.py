"""Scheduled jobs of forensics (registered in :data:`keeper.jobs.catalog.JOBS`).

* ``forensics_mirror`` (every 2 s): :class:`~keeper.forensics.mirror.TransferMirror` over the
  keeper's node (the follower's reader) for the deployment's tokens, from its start block;
* ``forensics_prune`` (daily): mirrored movements older than :data:`RETENTION_DAYS` deleted;
* ``forensics_detect`` (every second): one :class:`~keeper.forensics.pipeline.AnomalyPipeline`
  pass over the mirror, the ledger's deposits and the audit trail, alerts raised through the
  ledger's alert outbox. The pipeline (and its loaded state) is kept per keeper process; fan-in
  ignores our own wallets (vault and tiers), partners and exchanges.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from keeper.chain.reader import ChainReader
from keeper.forensics.detectors import default_detectors
from keeper.forensics.events import AuditSource, ChainSource, LedgerSource
from keeper.forensics.mirror import MirrorConfig, TransferMirror, prune_transfers
from keeper.forensics.pipeline import AnomalyPipeline
from keeper.forensics.trace import AddressLabels
from keeper.jobs.scheduler import JobRun

RETENTION_DAYS = 400  # traces reach back this far (a setting once the lead adds one)
MAX_STEPS = 20  # ranges per run: a long catch-up spreads over runs
COLLECTOR_LABELS = ("own", "partner", "exchange")
_PIPELINES: dict[int, AnomalyPipeline] = {}


def mirror(run: JobRun) -> int:
    """Mirror the chain's confirmed value movements; returns movements stored."""
    follower = run.host.follower
    cfg = MirrorConfig(tokens=follower.cfg.tokens, start_block=follower.cfg.start_block)
    reader = ChainReader(follower.w3)  # its own: the follower's reader runs in another job
    return TransferMirror(run.host.ledger.engine, reader, cfg).run_until_synced(MAX_STEPS)


def prune(run: JobRun) -> int:
    """Delete mirrored movements older than the retention; returns how many."""
    return prune_transfers(run.host.ledger.engine, run.slot - timedelta(days=RETENTION_DAYS))


def pipeline_for(host: Any) -> AnomalyPipeline:
    """The keeper ``host``'s pipeline (built once per process)."""
    key = id(host)
    if key not in _PIPELINES:
        engine = host.ledger.engine
        own = {host.follower.cfg.vault: "vault", **{a: f"tier{t}" for a, t in
                                                    host.follower.tiers.items()}}
        labels = AddressLabels.from_compliance(engine, own=own)
        ignore = frozenset(labels.having(COLLECTOR_LABELS))
        _PIPELINES[key] = AnomalyPipeline(
            engine, [ChainSource(engine), LedgerSource(engine), AuditSource(engine)],
            default_detectors(ignore), host.ledger.raise_alert)
    return _PIPELINES[key]


def detect(run: JobRun) -> int:
    """One anomaly pipeline pass; returns alerts stored."""
    return len(pipeline_for(run.host).run_once())
