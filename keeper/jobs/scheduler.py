"""One scheduler across keepers: the holder of the ``jobs:scheduler`` lease runs APScheduler.

APScheduler 3 must not share a job store between running schedulers, so only one keeper runs
one at a time: every keeper tries to take or renew the lease every ``lease_ttl / 3`` seconds
(:meth:`Ledger.acquire_lease`, fenced, on SQLite and PostgreSQL); the holder runs a
``BackgroundScheduler`` over the persistent SQLAlchemy job store, the others stand by. A
holder that cannot renew (lease taken over after it stalled, database unreachable) stops its
scheduler; a standby takes over once the lease lapses (``lease_ttl`` after the holder died).

Every run first inserts its (job, scheduled slot) record (:mod:`keeper.jobs.runs`): the unique
key is what guarantees a slot runs at most once, even when a stalled holder and its successor
both reach it. Misfire grace and coalescing are applied here (see :mod:`keeper.jobs.catalog`).
A slot whose run was interrupted by a crash is marked abandoned and not re-run: the next slot
catches up (the keeper's jobs resume from their own checkpoints). The store is read back through
:class:`~keeper.jobs.store.GuardedJobStore`: a planted row never runs code.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.util import ref_to_obj

from keeper.jobs import runs
from keeper.jobs.catalog import JobDef
from keeper.jobs.models import RunStatus
from keeper.jobs.store import STORED_FUNC, GuardedJobStore
from keeper.ledger import LeaseGrant, Ledger

log = logging.getLogger(__name__)
LEASE = "jobs:scheduler"


@dataclass(frozen=True, slots=True)
class JobRun:
    """What a job function receives: the keeper (``host``), its own name, its scheduled slot."""

    host: Any
    job: str
    slot: datetime


def scheduled(name: str) -> None:
    """What the persistent store references for every job: the job's name is the argument and
    :class:`JobScheduler` runs the function registered under it (never called directly)."""
    raise RuntimeError(f"job {name} runs only through JobScheduler's executor")


def default_holder() -> str:
    """A holder name unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class _SlotExecutor(ThreadPoolExecutor):
    """APScheduler executor that hands each job and its scheduled run times to the owner."""

    def __init__(self, owner: JobScheduler, workers: int) -> None:
        super().__init__(workers)
        self._owner = owner

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        def done(f: Any) -> None:
            exc = f.exception()
            if exc is not None:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, [])

        self._pool.submit(self._owner.execute, job.id, job.misfire_grace_time,
                          list(run_times)).add_done_callback(done)


class JobScheduler:
    """Leader-elected APScheduler over a persistent job store, with per-slot run records.

    ``jobs`` are the definitions to run; ``host`` is passed to every job in its
    :class:`JobRun`. ``on_success(job)`` / ``on_failure(job, exc)`` observe outcomes.
    """

    def __init__(self, ledger: Ledger, jobs: Sequence[JobDef], host: Any, *,
                 holder: str | None = None, lease_ttl: float = 30.0, workers: int = 4,
                 keep_runs: timedelta = timedelta(days=7),
                 on_success: Callable[[str], None] | None = None,
                 on_failure: Callable[[str, BaseException], None] | None = None) -> None:
        names = [j.name for j in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate job names in {names}")
        self.ledger = ledger
        self.engine = ledger.engine
        self.jobs = {j.name: j for j in jobs}
        self._funcs = {j.name: ref_to_obj(j.func) for j in jobs}  # a bad name fails at start-up
        self.host = host
        self.holder = holder or default_holder()
        self.lease_ttl = lease_ttl
        self.workers = workers
        self.on_success = on_success
        self.on_failure = on_failure
        # finished run records older than this are pruned (hourly, by the leader); never less
        # than twice the longest misfire grace, so a pruned slot can only be recorded missed
        self.keep_runs = max(keep_runs, timedelta(seconds=2 * max(
            (j.misfire_grace for j in jobs), default=0)))
        self._pruned_at: float | None = None
        self._lock = threading.RLock()
        self._grant: LeaseGrant | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------- leadership
    @property
    def leading(self) -> bool:
        """Whether this process holds the scheduler lease (as of its last renewal)."""
        return self._grant is not None

    @property
    def running(self) -> bool:
        """Whether the standby/leadership loop is running."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start contending for the lease in a background thread (returns at once)."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="jobs-leader", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # noqa: BLE001 - keep contending; stop jobs until the next step
                log.exception("scheduler step failed; standing by")
                with self._lock:
                    self._demote()
            self._stop.wait(self.lease_ttl / 3)

    def step(self) -> bool:
        """Take or renew the lease once; start or stop the scheduler accordingly. Leading?"""
        try:
            grant = self.ledger.acquire_lease(LEASE, self.holder, self.lease_ttl)
        except Exception:  # noqa: BLE001 - cannot renew: stop running jobs, retry next step
            log.exception("scheduler lease: could not reach the database")
            grant = None
        with self._lock:
            if self._stop.is_set():
                return False
            if grant is None:
                if self._grant is not None:
                    log.warning("%s lost the scheduler lease; standing by", self.holder)
                    self._demote()
                return False
            if self._grant is None or grant.token != self._grant.token:
                self._demote()
                self._grant = grant
                self._promote(grant)
            else:
                self._grant = grant
        self._prune()
        return True

    def _prune(self) -> None:
        """Drop old finished run records, at most once an hour."""
        if self._pruned_at is not None and time.monotonic() - self._pruned_at < 3600:
            return
        self._pruned_at = time.monotonic()
        n = runs.prune(self.engine, datetime.now(UTC) - self.keep_runs)
        if n:
            log.info("pruned %d run record(s) older than %s", n, self.keep_runs)

    def _promote(self, grant: LeaseGrant) -> None:
        abandoned = runs.abandon_older(self.engine, grant.token)
        log.info("%s runs the scheduler (lease token %d; %d interrupted run(s) abandoned)",
                 self.holder, grant.token, abandoned)
        sched = BackgroundScheduler(
            timezone=UTC,
            jobstores={"default": GuardedJobStore(self.engine, self.jobs)},
            executors={"default": _SlotExecutor(self, self.workers)})
        sched.start(paused=True)
        self._sync(sched)
        sched.resume()
        self._scheduler = sched

    def _sync(self, sched: BackgroundScheduler) -> None:
        """Make the persistent store hold exactly ``self.jobs``; keep the stored next run time
        of an unchanged job (so runs missed while no keeper led are seen as misfires)."""
        for job in sched.get_jobs():
            if job.id not in self.jobs:
                log.info("removing job %s (no longer defined)", job.id)
                job.remove()
        for d in self.jobs.values():
            stored = sched.get_job(d.name)
            trigger = d.trigger()
            if (stored is not None and str(stored.trigger) == str(trigger)
                    and tuple(stored.args) == (d.name,) and stored.coalesce == d.coalesce
                    and stored.misfire_grace_time == d.misfire_grace):
                continue
            sched.add_job(STORED_FUNC, trigger, args=(d.name,), id=d.name, name=d.name,
                          replace_existing=True, coalesce=d.coalesce,
                          misfire_grace_time=d.misfire_grace, max_instances=1)

    def _demote(self) -> None:
        sched, self._scheduler, self._grant = self._scheduler, None, None
        if sched is not None and sched.running:
            sched.shutdown(wait=False)

    def stop(self) -> None:
        """Stop contending, stop the scheduler (waiting for running jobs), free the lease."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            sched, grant = self._scheduler, self._grant
            self._scheduler = self._grant = None
        if sched is not None and sched.running:
            sched.shutdown(wait=True)
        if grant is not None:
            try:
                self.ledger.release_lease(grant)
            except Exception:  # noqa: BLE001 - it expires on its own
                log.exception("could not release the scheduler lease")

    # ------------------------------------------------------------- runs
    def execute(self, job: str, grace: float | None, run_times: Sequence[datetime]) -> None:
        """Run ``job`` for each slot in ``run_times`` not already recorded, while leading."""
        func = self._funcs[job]
        for slot in run_times:
            slot = slot.astimezone(UTC)
            with self._lock:
                grant = self._grant
            if grant is None or self.ledger.acquire_lease(LEASE, self.holder,
                                                          self.lease_ttl) is None:
                log.warning("%s: not leading any more; slot %s of %s left to the leader",
                            self.holder, slot, job)
                return
            now = datetime.now(UTC)
            late = grace is not None and (now - slot).total_seconds() > grace
            status = RunStatus.MISSED if late else RunStatus.RUNNING
            if not runs.claim(self.engine, job, slot, self.holder, grant.token, status, now):
                log.info("slot %s of %s was already run; skipped", slot, job)
                continue
            if late:
                log.warning("job %s missed its slot %s (%.0f s late, grace %s s)", job, slot,
                            (now - slot).total_seconds(), grace)
                continue
            self.run_slot(job, func, slot, grant.token)

    def run_slot(self, job: str, func: Callable[[JobRun], object], slot: datetime,
                 token: int) -> None:
        """Run one claimed slot and record its outcome."""
        try:
            result = func(JobRun(self.host, job, slot))
        except Exception as exc:  # noqa: BLE001 - a job must never kill the scheduler
            runs.finish(self.engine, job, slot, token, RunStatus.FAILED,
                        f"{type(exc).__name__}: {exc}"[:2000])
            if self.on_failure is not None:
                self.on_failure(job, exc)
            return
        runs.finish(self.engine, job, slot, token, RunStatus.DONE, result=result)
        if self.on_success is not None:
            self.on_success(job)
