"""The keeper's background jobs, run by an APScheduler background scheduler.

* ``follow``: mirror the vault's events into the ledger (exactly once, reorg-safe) every
  ``poll_seconds``; one instance at a time, missed runs coalesced. Across processes the
  follower's cursor lease keeps a second keeper on the same database idle until the first dies.
* ``expire_holds``: void two-phase holds whose expiry passed, every ``expiry_seconds``.

A job that raises is logged and retried at its next run: the follower commits its checkpoint with
its postings, so a failed run leaves nothing half-done. A job that keeps failing escalates: after
``escalate_after`` consecutive failures a ``job_failing`` alert is recorded in the ledger (once
per streak) and sent to ``on_alert``; the first success afterwards records ``job_recovered``.
``/health`` shows the follower's lag in blocks and seconds meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from web3 import HTTPProvider, Web3

from keeper.chain import Follower, FollowerConfig
from keeper.config import Settings
from keeper.ledger import Ledger

log = logging.getLogger(__name__)
AlertSink = Callable[[str, str], None]


def follower_config(deployments: dict[str, Any], confirmations: int) -> FollowerConfig:
    """Follower settings from a deployments record written by ``scripts.deployments``."""
    tokens = {address: symbol for symbol, address in deployments.get("tokens", {}).items()}
    return FollowerConfig(
        vault=deployments["addresses"]["vault"],
        tokens=tokens,
        confirmations=confirmations,
        start_block=int(deployments.get("start_block", 0)),
    )


class KeeperJobs:
    """Owns the ledger, the follower and the scheduler that runs them."""

    def __init__(self, settings: Settings, deployments: dict[str, Any], *,
                 poll_seconds: float = 1.0, expiry_seconds: float = 60.0,
                 escalate_after: int = 5, on_alert: AlertSink | None = None) -> None:
        self.ledger = Ledger(settings.database_url)
        w3 = Web3(HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 10}))
        self.on_alert = on_alert
        self.follower = Follower(w3, self.ledger, follower_config(deployments, settings.confirmations),
                                 on_alert=self._alert)
        self.escalate_after = escalate_after
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.scheduler.add_job(self.follow_once, "interval", seconds=poll_seconds, id="follow",
                               max_instances=1, coalesce=True)
        self.scheduler.add_job(self.expire_once, "interval", seconds=expiry_seconds,
                               id="expire_holds", max_instances=1, coalesce=True)
        self.runs = 0
        self.failures = 0
        self.streaks: dict[str, int] = {}  # job -> consecutive failures
        self._streak_start: dict[str, str] = {}

    def follow_once(self) -> int:
        """Mirror everything that has enough confirmations; returns events applied."""
        applied = self._guarded("follow", self.follower.run_until_synced)
        if applied is None:
            return 0
        self.runs += 1
        return applied

    def expire_once(self) -> int:
        """Void the holds whose expiry passed; returns how many."""
        return self._guarded("expire_holds", self.ledger.expire_holds) or 0

    def _guarded(self, job: str, fn: Callable[[], int]) -> int | None:
        """Run ``fn``; count failures, escalate a streak, report recovery. None on failure."""
        try:
            out = fn()
        except Exception as exc:  # noqa: BLE001 - a job must never kill the scheduler
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
            return None
        if self.streaks.get(job, 0) >= self.escalate_after:
            self._record("job_recovered", f"{job} job ran again after {self.streaks[job]} "
                         f"failures", f"job_recovered:{job}:{self._streak_start[job]}")
        self.streaks[job] = 0
        return out

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
        """Start the scheduler (jobs run in its worker threads)."""
        self.scheduler.start()

    def stop(self) -> None:
        """Stop the scheduler (if started), wait for running jobs, free the follower's lease,
        close the ledger."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        try:
            self.follower.close()
        except Exception:  # noqa: BLE001 - the lease expires on its own
            log.exception("could not release the follower's lease")
        self.ledger.close()
