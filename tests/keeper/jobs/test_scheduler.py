"""The scheduler in one process: fenced slot claims, misfire grace and coalescing, failures
recorded (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from keeper.jobs import JobDef, JobRun, JobScheduler, recorded_runs
from keeper.jobs.models import STORE_TABLE
from keeper.ledger import Ledger

CALLS: list[tuple[str, datetime]] = []
HOUR = 3600


def counted(run: JobRun) -> None:
    """Test job: remember each (job, slot) it ran."""
    CALLS.append((run.job, run.slot))


def broken(run: JobRun) -> None:
    """Test job that always fails."""
    raise RuntimeError(f"{run.job} cannot run")


REF = f"{__name__}:counted"


@pytest.fixture
def ledger(db_url):
    CALLS.clear()
    lg = Ledger(db_url, group_commit=False)
    yield lg
    lg.close()


def scheduler(ledger, *jobs: JobDef, holder: str, **kw) -> JobScheduler:
    return JobScheduler(ledger, list(jobs), ledger, holder=holder, lease_ttl=600, **kw)


def wait_for(cond, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_stalled_holder_and_its_successor_never_run_one_slot_twice(ledger):
    hourly = JobDef("hourly", REF, every=HOUR, misfire_grace=HOUR)
    a, b = (scheduler(ledger, hourly, holder=h) for h in ("keeper-a", "keeper-b"))
    try:
        assert a.step() and a.leading
        assert not b.step()  # one holder at a time
        slot = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        ledger.release_lease(a._grant)  # a stalls past its lease; b takes over
        assert b.step() and b.leading
        a.execute("hourly", HOUR, [slot])  # the stalled holder wakes up: fenced, runs nothing
        assert CALLS == []
        b.execute("hourly", HOUR, [slot])
        b.execute("hourly", HOUR, [slot])  # reached again (e.g. store not yet updated): skipped
        assert CALLS == [("hourly", slot)]
        [run] = recorded_runs(ledger.engine, "hourly")
        assert (run.slot, run.holder, run.status) == (slot, "keeper-b", "done")
        assert run.token == b._grant.token > 1
    finally:
        a.stop()
        b.stop()


def _keepers_down_for_three_hours(url: str, ledger, job: JobDef) -> datetime:
    """Register ``job``, then move its stored next run three slots back (as if no keeper ran
    for three hours); returns the latest slot."""
    first = scheduler(ledger, job, holder="keeper-before")
    assert first.step()
    first.stop()
    latest = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    store = SQLAlchemyJobStore(engine=ledger.engine, tablename=STORE_TABLE)
    store.start(BackgroundScheduler(timezone=UTC), "default")  # never started: no jobs run
    stored = store.lookup_job(job.name)
    stored._modify(next_run_time=latest - timedelta(hours=3))
    store.update_job(stored)
    store.shutdown()
    return latest


@pytest.mark.parametrize("coalesce", [False, True])
def test_misfired_slots_beyond_grace_are_recorded_missed_and_the_rest_run(db_url, ledger,
                                                                          coalesce):
    job = JobDef("hourly", REF, every=HOUR, misfire_grace=HOUR + HOUR // 2, coalesce=coalesce)
    latest = _keepers_down_for_three_hours(db_url, ledger, job)
    slots = [latest - timedelta(hours=h) for h in (3, 2, 1, 0)]
    want = 1 if coalesce else 4
    b = scheduler(ledger, job, holder="keeper-after")
    try:
        assert b.step()
        wait_for(lambda: len([r for r in recorded_runs(ledger.engine, "hourly")
                              if r.status != "running"]) >= want)
    finally:
        b.stop()
    runs = recorded_runs(ledger.engine, "hourly")
    assert [r.slot for r in runs] == (slots[-1:] if coalesce else slots)
    for r in runs:  # run iff it was reached within its grace
        on_time = (r.started_at - r.slot).total_seconds() <= job.misfire_grace
        assert r.status == ("done" if on_time else "missed")
    assert runs[-1].status == "done"
    if not coalesce:
        assert [r.status for r in runs[:2]] == ["missed", "missed"]
    assert sorted(s for _, s in CALLS) == [r.slot for r in runs if r.status == "done"]


def test_a_failing_job_is_recorded_failed_and_reported(ledger):
    seen: list[tuple[str, str]] = []
    job = JobDef("broken", f"{__name__}:broken", every=HOUR)
    s = scheduler(ledger, job, holder="keeper-a",
                  on_failure=lambda name, exc: seen.append((name, str(exc))))
    try:
        assert s.step()
        slot = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        s.execute("broken", HOUR, [slot])
    finally:
        s.stop()
    [run] = recorded_runs(ledger.engine, "broken")
    assert run.status == "failed" and run.error == "RuntimeError: broken cannot run"
    assert seen == [("broken", "broken cannot run")]


def test_a_new_holder_marks_runs_interrupted_under_the_old_lease_abandoned(ledger):
    from keeper.jobs import runs

    a = scheduler(ledger, JobDef("hourly", REF, every=HOUR), holder="keeper-a")
    b = scheduler(ledger, JobDef("hourly", REF, every=HOUR), holder="keeper-b")
    try:
        assert a.step()
        slot = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        assert runs.claim(ledger.engine, "hourly", slot, "keeper-a", a._grant.token, "running",
                          datetime.now(UTC))  # a dies in the middle of this run
        ledger.release_lease(a._grant)
        assert b.step()
        b.execute("hourly", HOUR, [slot])  # the interrupted slot is not run again
    finally:
        b.stop()
        a.stop()
    [run] = recorded_runs(ledger.engine, "hourly")
    assert (run.holder, run.status) == ("keeper-a", "abandoned")
    assert CALLS == []


def test_the_leader_prunes_old_finished_run_records_only(ledger):
    from keeper.jobs import runs

    now = datetime.now(UTC)
    old, recent = now - timedelta(days=8), now - timedelta(days=6)
    assert runs.claim(ledger.engine, "hourly", old, "keeper-a", 1, "running", now)  # in flight
    assert runs.claim(ledger.engine, "hourly", recent, "k", 0, "running", now)
    runs.finish(ledger.engine, "hourly", recent, 0, "done")
    assert runs.claim(ledger.engine, "hourly", old - timedelta(hours=1), "k", 0, "missed", now)
    s = scheduler(ledger, JobDef("hourly", REF, every=HOUR), holder="keeper-a")
    try:
        assert s.step()
    finally:
        s.stop()
    left = {(r.slot, r.status) for r in recorded_runs(ledger.engine, "hourly")}
    assert (old - timedelta(hours=1), "missed") not in left  # pruned
    assert {(recent, "done")} <= left
    assert (old, "running") in left  # in flight under the current lease: never pruned
    assert s.keep_runs == timedelta(days=7)
    long_grace = JobDef("weekly", REF, every=HOUR, misfire_grace=6 * 86400)
    assert scheduler(ledger, long_grace, holder="x").keep_runs == timedelta(days=12)


class _Payload:
    """A pickle that runs a command when loaded (what a database writer could plant)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_planted_job_row_is_refused_without_being_executed(ledger, tmp_path):
    import pickle

    from sqlalchemy import text

    job = JobDef("hourly", REF, every=HOUR)
    first = scheduler(ledger, job, holder="keeper-a")
    assert first.step()
    first.stop()
    marker = tmp_path / "pwned"
    with ledger.engine.begin() as conn:
        conn.execute(text(f"UPDATE {STORE_TABLE} SET job_state = :s WHERE id = 'hourly'"),
                     {"s": pickle.dumps({"id": "hourly", "x": _Payload(str(marker))})})
        conn.execute(text(f"INSERT INTO {STORE_TABLE} (id, next_run_time, job_state) "
                          "VALUES ('evil', 0, :s)"),
                     {"s": pickle.dumps({"version": 1, "id": "evil", "func": "os:getcwd",
                                         "args": (), "kwargs": {}})})
    b = scheduler(ledger, job, holder="keeper-b")
    try:
        assert b.step()
        jobs = b._scheduler.get_jobs()
    finally:
        b.stop()
    assert not marker.exists()
    assert [(j.id, j.func_ref, j.args) for j in jobs] == [
        ("hourly", "keeper.jobs.scheduler:scheduled", ("hourly",))]  # re-written as defined
    with ledger.engine.connect() as conn:
        assert conn.scalars(text(f"SELECT id FROM {STORE_TABLE}")).all() == ["hourly"]
