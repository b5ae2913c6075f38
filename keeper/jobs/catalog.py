"""The one list of scheduled jobs: what runs, when, and how a late run is handled.

A job is registered by name with a textual reference to its function (``"module:function"``),
called as ``function(run)`` with a :class:`~keeper.jobs.scheduler.JobRun` (the keeper, the job's
name, the scheduled slot). APScheduler's persistent store keeps only the job's name, its trigger
and one fixed entry point (the scheduler resolves the name here): never a pickled bound object.
A domain adds its job with one line in :data:`JOBS`, e.g.
``JobDef("recon_hourly", "keeper.recon.jobs:hourly", cron={"minute": "5"})``
or ``JobDef("gl_batch", "keeper.gl.jobs:end_of_day", cron={"hour": "23", "minute": "55"})``.

Misfires: a run whose slot is older than ``misfire_grace`` seconds when a scheduler gets to it
(the keepers were down, or busy) is recorded as missed and not run; with ``coalesce`` several
missed slots of one job collapse into the latest one. Times are UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

# Interval slots are counted from this instant, so every keeper computes the same slot grid
# (a slot is the unique key of a run: a takeover never shifts it).
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class JobDef:
    """A scheduled job: ``every`` seconds or on a ``cron`` (APScheduler cron fields, UTC)."""

    name: str
    func: str  # "package.module:function", called with a JobRun
    every: float | None = None
    cron: Mapping[str, str] = field(default_factory=dict)
    misfire_grace: int = 60  # seconds (APScheduler takes whole seconds)
    coalesce: bool = True

    def __post_init__(self) -> None:
        if (self.every is None) == (not self.cron):
            raise ValueError(f"job {self.name}: give exactly one of every= and cron=")
        if self.every is not None and self.every <= 0:
            raise ValueError(f"job {self.name}: every= must be positive")
        if self.misfire_grace < 1:
            raise ValueError(f"job {self.name}: misfire_grace must be at least 1 second")
        if ":" not in self.func:
            raise ValueError(f"job {self.name}: func must be 'module:function', not {self.func!r}")
        object.__setattr__(self, "cron", MappingProxyType(dict(self.cron)))

    def trigger(self) -> BaseTrigger:
        """The APScheduler trigger of this job (deterministic across processes)."""
        if self.every is not None:
            return IntervalTrigger(seconds=self.every, start_date=EPOCH, timezone=UTC)
        return CronTrigger(timezone=UTC, **dict(self.cron))


JOBS: tuple[JobDef, ...] = (
    JobDef("follow", "keeper.jobs.builtin:follow", every=1.0, misfire_grace=30),
    JobDef("expire_holds", "keeper.jobs.builtin:expire_holds", every=60.0, misfire_grace=600),
    JobDef("alerts_dispatch", "keeper.jobs.builtin:dispatch_alerts", every=5.0,
           misfire_grace=60),
    JobDef("webhooks_dispatch", "keeper.notifications.jobs:dispatch", every=5.0, misfire_grace=60),
    JobDef("audit_anchor", "keeper.audit.jobs:anchor_head", every=60.0, misfire_grace=60),
    JobDef("recon_type1", "keeper.recon.jobs:type1_hourly", cron={"minute": "5"},
           misfire_grace=3600),
    JobDef("recon_overdue", "keeper.recon.jobs:escalate_overdue", cron={"minute": "15"},
           misfire_grace=3600),
    JobDef("gl_eod", "keeper.gl.jobs:end_of_day", cron={"hour": "23", "minute": "55"},
           misfire_grace=3600),
    JobDef("gl_retry", "keeper.gl.jobs:retry_due", every=60.0, misfire_grace=120),
    JobDef("compliance_rescreen", "keeper.compliance.jobs:daily_rescreen",
           cron={"hour": "2", "minute": "0"}, misfire_grace=6 * 3600),
    JobDef("compliance_sar_deadlines", "keeper.compliance.jobs:sar_deadlines",
           cron={"hour": "7", "minute": "0"}, misfire_grace=6 * 3600),
    JobDef("recon_daily", "keeper.recon.jobs:daily_report", cron={"hour": "0", "minute": "30"},
           misfire_grace=6 * 3600),
    JobDef("safetx", "keeper.safetx.jobs:tick", every=5.0, misfire_grace=60),
    JobDef("flows_resume", "keeper.jobs.builtin:flows_resume", every=5.0, misfire_grace=60),
    JobDef("flows_eod_burns", "keeper.jobs.builtin:flows_eod_burns",
           cron={"hour": "23", "minute": "45"}, misfire_grace=3600),
    JobDef("chain_sender_tick", "keeper.jobs.builtin:chain_sender_tick", every=5.0,
           misfire_grace=60),
    JobDef("treasury_tier_check", "keeper.treasury.tiers.jobs:treasury_tier_check",
           cron={"minute": "10"}, misfire_grace=3600),
    JobDef("treasury_sweep_daily", "keeper.treasury.tiers.jobs:treasury_sweep_daily",
           cron={"hour": "1", "minute": "0"}, misfire_grace=6 * 3600),
    JobDef("treasury_sweep_weekly", "keeper.treasury.tiers.jobs:treasury_sweep_weekly",
           cron={"day_of_week": "mon", "hour": "2", "minute": "0"}, misfire_grace=6 * 3600),
    JobDef("treasury_pooling", "keeper.treasury.pooling.jobs:advance", every=30.0, misfire_grace=120),
    JobDef("treasury_rebalance", "keeper.treasury.rebalance.jobs:treasury_rebalance",
           cron={"hour": "3", "minute": "0"}, misfire_grace=6 * 3600),
    JobDef("flows_outbox_prune", "keeper.flows.jobs:prune", cron={"hour": "4"}, misfire_grace=21600),
    JobDef("forensics_mirror", "keeper.forensics.jobs:mirror", every=2.0, misfire_grace=30),
    JobDef("forensics_detect", "keeper.forensics.jobs:detect", every=1.0, misfire_grace=30),
    JobDef("forensics_prune", "keeper.forensics.jobs:prune", cron={"hour": "4"}, misfire_grace=21600),
    JobDef("partners_sync", "keeper.partners.jobs:sync", every=10.0, misfire_grace=60),
    JobDef("staking_sync", "keeper.staking.jobs:sync", every=15.0, misfire_grace=60),
    JobDef("trading_routing_resume", "keeper.trading.routing.jobs:resume", every=30.0, misfire_grace=60),
)
