"""The keeper's background jobs: the :data:`~keeper.jobs.catalog.JOBS` run by one scheduler
across all keepers on the database (:class:`~keeper.jobs.scheduler.JobScheduler`).

* ``follow``: mirror the vault's events into the ledger (exactly once, reorg-safe). Across
  processes the follower's cursor lease also keeps a second follower idle. It reads through
  ``settings.rpc_url`` then ``settings.rpc_fallback_urls`` (:mod:`keeper.chain.endpoints`:
  a failing node, one on another chain than the deployment's or behind the cursor is skipped,
  and the cursor is re-verified against each node switched to).
* ``expire_holds``: void two-phase holds whose expiry passed.
* ``alerts_dispatch``: deliver the ledger's alerts on the configured channels (:mod:`keeper.alerts`).
* ``audit_anchor``: sign the audit chain's head with the HSM into ``settings.audit_anchors``.
* ``recon_type1``: hourly type-1 reconciliation (sub-ledger vs chain, prices from settings).
* ``recon_overdue``: hourly, one alert per reconciliation break past its due time.

A job that raises is logged and retried at its next run: the follower commits its checkpoint with
its postings, so a failed run leaves nothing half-done. A job that keeps failing escalates: after
``escalate_after`` consecutive failures a ``job_failing`` alert is recorded in the ledger (once
per streak) and sent to ``on_alert``; the first success afterwards records ``job_recovered``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.engine import make_url

from keeper.alerts import AuditFn, Channel
from keeper.alerts.configured import dispatcher_from_settings
from keeper.audit import record_in
from keeper.chain import Follower, FollowerConfig
from keeper.chain.endpoints import web3_from_settings
from keeper.config import Settings
from keeper.deployments import Deployment
from keeper.jobs.catalog import JOBS, JobDef
from keeper.jobs.scheduler import JobScheduler
from keeper.keys.hsm import HsmConfig
from keeper.ledger import Ledger

log = logging.getLogger(__name__)
AlertSink = Callable[[str, str], None]


def follower_config(deployment: Deployment, confirmations: int,
                    lease_seconds: float = 30.0) -> FollowerConfig:
    """Follower settings from the typed deployments record; the cursor's lease lasts
    ``lease_seconds`` (the scheduler's: a keeper taking the scheduler over also gets the
    cursor within one lease of its predecessor's death)."""
    return FollowerConfig(
        vault=deployment.address("vault"),
        tokens={address: symbol for symbol, address in deployment.tokens.items()},
        confirmations=confirmations,
        start_block=deployment.start_block,
        lease_seconds=lease_seconds,
    )


MIN_STALL_S = 5.0  # never end a session idle in its transaction sooner than this


def stall_bounded(url: str, lease_seconds: float, floor: float = MIN_STALL_S) -> str:
    """``url`` such that, on PostgreSQL, the server ends a keeper session left idle inside a
    transaction for longer than its lease (at least ``floor`` seconds): a keeper stalled
    mid-transaction (SIGSTOP, a paused VM) otherwise keeps its row locks, and a standby waiting
    for them could never take over. Its transaction rolls back; its lease was gone anyway."""
    u = make_url(url)
    if u.get_backend_name() != "postgresql":
        return url
    ms = int(max(lease_seconds, floor) * 1000)
    opts = u.query.get("options", "")
    opts = f"{opts} -c idle_in_transaction_session_timeout={ms}".strip()
    return u.update_query_dict({"options": opts}).render_as_string(hide_password=False)


class KeeperJobs:
    """Owns the ledger, the follower, the alert dispatcher and the scheduler that runs them.

    ``poll_seconds`` / ``expiry_seconds`` / ``alert_seconds`` override the catalog's intervals
    of ``follow`` / ``expire_holds`` / ``alerts_dispatch``; ``jobs`` replaces the catalog.
    Alerts go to the log, ``alert_channels`` and the channels the settings configure
    (:mod:`keeper.alerts.configured`); ``audit`` (default: the audit chain,
    :func:`keeper.audit.record_in`) is called in the transaction of every alert delivery record
    (see :class:`keeper.alerts.AlertDispatcher`). ``lease_ttl`` defaults to
    ``settings.jobs_lease_seconds``; the follower's cursor lease lasts as long, and on
    PostgreSQL a session of this keeper stalled inside a transaction is ended after it
    (:func:`stall_bounded`). ``hsm`` is the token holding the ``audit-anchor`` key.
    """

    def __init__(self, settings: Settings, deployment: Deployment, *,
                 poll_seconds: float = 1.0, expiry_seconds: float = 60.0,
                 alert_seconds: float = 5.0, escalate_after: int = 5,
                 on_alert: AlertSink | None = None, jobs: Sequence[JobDef] = JOBS,
                 lease_ttl: float | None = None, holder: str | None = None,
                 alert_channels: Sequence[Channel] = (), audit: AuditFn | None = record_in,
                 hsm: HsmConfig | None = None) -> None:
        self.settings = settings
        self.hsm = hsm
        lease_ttl = lease_ttl or settings.jobs_lease_seconds
        self.ledger = Ledger(stall_bounded(settings.database_url, lease_ttl))
        w3 = web3_from_settings(settings, deployment.chain_id)  # rpc_url, then the fallbacks
        self.on_alert = on_alert
        self.follower = Follower(w3, self.ledger,
                                 follower_config(deployment, settings.confirmations, lease_ttl),
                                 on_alert=self._alert)
        self.alerts = dispatcher_from_settings(settings, self.ledger, extra=alert_channels,
                                               audit=audit)
        self.escalate_after = escalate_after
        every = {"follow": poll_seconds, "expire_holds": expiry_seconds,
                 "alerts_dispatch": alert_seconds}
        defs = [replace(j, every=every[j.name]) if j.name in every and j.every else j
                for j in jobs]
        self.scheduler = JobScheduler(self.ledger, defs, self, holder=holder,
                                      lease_ttl=lease_ttl,
                                      on_success=self._succeeded,
                                      on_failure=self._failed)
        self.runs = 0
        self.failures = 0
        self.streaks: dict[str, int] = {}  # job -> consecutive failures
        self._streak_start: dict[str, str] = {}

    def mirror(self) -> int:
        """One follower pass (raises on failure); returns events applied."""
        applied = self.follower.run_until_synced()
        self.runs += 1
        return applied

    def follow_once(self) -> int:
        """Mirror everything that has enough confirmations; returns events applied (0 on failure)."""
        return self._guarded("follow", self.mirror) or 0

    def expire_once(self) -> int:
        """Void the holds whose expiry passed; returns how many (0 on failure)."""
        return self._guarded("expire_holds", self.ledger.expire_holds) or 0

    def _guarded(self, job: str, fn: Callable[[], int]) -> int | None:
        """Run ``fn`` with failure accounting; None on failure."""
        try:
            out = fn()
        except Exception as exc:  # noqa: BLE001 - a job must never kill the scheduler
            self._failed(job, exc)
            return None
        self._succeeded(job)
        return out

    def _failed(self, job: str, exc: BaseException) -> None:
        """Count a failure; record ``job_failing`` when a streak reaches ``escalate_after``."""
        self.failures += 1
        n = self.streaks[job] = self.streaks.get(job, 0) + 1
        if n == 1:
            self._streak_start[job] = datetime.now(UTC).isoformat()
        log.warning("%s job failed %d time(s) in a row (%s: %s); retrying at its next run",
                    job, n, type(exc).__name__, exc)
        if n == self.escalate_after:
            msg = (f"{job} job failed {n} times in a row since {self._streak_start[job]}: "
                   f"{type(exc).__name__}: {exc}")
            self._record("job_failing", msg, f"job_failing:{job}:{self._streak_start[job]}")

    def _succeeded(self, job: str) -> None:
        """End a failure streak; record ``job_recovered`` after an escalated one."""
        if self.streaks.get(job, 0) >= self.escalate_after:
            self._record("job_recovered", f"{job} job ran again after {self.streaks[job]} "
                         f"failures", f"job_recovered:{job}:{self._streak_start[job]}")
        self.streaks[job] = 0

    def _record(self, kind: str, message: str, ref: str) -> None:
        try:
            self.ledger.raise_alert(kind, message, ref)
        except Exception:  # noqa: BLE001 - the database may be what is failing
            log.exception("could not record alert %s", kind)
        self._alert(kind, message)

    def _alert(self, code: str, message: str) -> None:
        log.warning("keeper alert %s: %s", code, message)
        if self.on_alert is not None:
            self.on_alert(code, message)

    def start(self) -> None:
        """Contend for the scheduler lease; run the jobs while holding it."""
        self.scheduler.start()

    def stop(self) -> None:
        """Stop the scheduler (waiting for running jobs, freeing its lease), free the follower's
        lease, close the ledger."""
        self.scheduler.stop()
        try:
            self.follower.close()
        except Exception:  # noqa: BLE001 - the lease expires on its own
            log.exception("could not release the follower's lease")
        self.ledger.close()
