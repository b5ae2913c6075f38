"""Forensics: fund-flow tracing over our own mirror of the chain, and real-time anomaly detection.

Public surface:

* :class:`TransferMirror` / :class:`MirrorConfig` (:mod:`keeper.forensics.mirror`): the value
  movements of the watched tokens and native ETH, read through our node with a persisted cursor,
  confirmations, reorg repair, fake tokens and dust kept out; :func:`prune_transfers` (retention);
* :func:`trace` / :class:`TraceLimits` / :class:`Trace` / :class:`AddressLabels`
  (:mod:`keeper.forensics.trace`): bounded tracing in and out of an address or a transaction,
  labelled addresses marked (compliance lists, own wallets, partners, whitelisted), exported as
  JSON, CSV and GraphViz dot;
* :class:`Event` and the sources :class:`ChainSource`, :class:`LedgerSource`,
  :class:`AuditSource` (:mod:`keeper.forensics.events`);
* the detectors (:mod:`keeper.forensics.detectors`) and :func:`default_detectors`;
* :class:`AnomalyPipeline` / :class:`StoredAlert` / :func:`stored_alerts`
  (:mod:`keeper.forensics.pipeline`): restart-safe detection, alerts with their forensic chain;
* :func:`upgrade` (the ``forensics_*`` tables).
"""

from keeper.forensics.detectors import (
    Burst,
    Detector,
    FanIn,
    Finding,
    NewDestinationLarge,
    PeelChain,
    State,
    UnusualHours,
    VolumeSpike,
    default_detectors,
)
from keeper.forensics.events import AuditSource, ChainSource, Event, LedgerSource, Source
from keeper.forensics.migrate import upgrade
from keeper.forensics.mirror import CAUGHT_UP, MirrorConfig, Movement, TransferMirror, prune_transfers
from keeper.forensics.pipeline import AnomalyPipeline, PipelineMovedError, StoredAlert, stored_alerts
from keeper.forensics.trace import MAX_DEPTH, AddressLabels, Trace, TraceLimits, known_labels, trace

__all__ = [
    "CAUGHT_UP", "MAX_DEPTH", "AddressLabels", "AnomalyPipeline", "AuditSource", "Burst", "ChainSource",
    "Detector", "Event", "FanIn", "Finding", "LedgerSource", "MirrorConfig", "Movement",
    "NewDestinationLarge", "PeelChain", "PipelineMovedError", "Source", "State", "StoredAlert",
    "Trace", "TraceLimits", "TransferMirror", "UnusualHours", "VolumeSpike", "default_detectors",
    "known_labels", "prune_transfers", "stored_alerts", "trace", "upgrade",
]
