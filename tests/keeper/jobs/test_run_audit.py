"""Every job run is in the audit chain: its claim (start, or missed) and its end (done or failed,
with the job's result or error), each written in the transaction that records it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from keeper.audit.models import AuditRow
from keeper.jobs import JobDef, JobRun, JobScheduler
from keeper.ledger import Ledger

HOUR = 3600
SLOT = datetime(2026, 11, 23, 10, tzinfo=UTC)


def seven(run: JobRun) -> int:
    """Test job returning a result."""
    return 7


def broken(run: JobRun) -> None:
    """Test job that fails."""
    raise RuntimeError("upstream down")


@pytest.fixture
def ledger(db_url):
    lg = Ledger(db_url, group_commit=False)
    yield lg
    lg.close()


def job_records(ledger: Ledger) -> list[dict]:
    with ledger.engine.connect() as c:
        bodies = c.execute(select(AuditRow.body).order_by(AuditRow.seq)).scalars()
        recs = [json.loads(b)["record"] for b in bodies]
    return [r for r in recs if r["operation"].startswith("jobs.run.")]


def test_job_runs_are_audited_start_and_end(ledger: Ledger) -> None:
    ok = JobDef("seven", f"{__name__}:seven", every=HOUR, misfire_grace=10**9)
    bad = JobDef("broken", f"{__name__}:broken", every=HOUR, misfire_grace=10**9)
    sched = JobScheduler(ledger, [ok, bad], ledger, holder="keeper-a", lease_ttl=600)
    try:
        assert sched.step() and sched.leading
        sched.execute("seven", None, [SLOT])
        sched.execute("seven", None, [SLOT])  # already claimed: no second run, no record
        sched.execute("broken", None, [SLOT])
        sched.execute("seven", 60, [datetime(2026, 1, 1, tzinfo=UTC)])  # far too late: missed
    finally:
        sched.stop()
    got = [(r["operation"], r["actor"], r["params"]["job"], r["result"]) for r in job_records(ledger)]
    assert got == [
        ("jobs.run.start", "keeper-a", "seven", "running"),
        ("jobs.run.end", "keeper-a", "seven", {"status": "done", "result": 7}),
        ("jobs.run.start", "keeper-a", "broken", "running"),
        ("jobs.run.end", "keeper-a", "broken",
         {"status": "failed", "error": "RuntimeError: upstream down"}),
        ("jobs.run.start", "keeper-a", "seven", "missed"),
    ]
    assert job_records(ledger)[0]["params"]["slot"] == "2026-11-23T10:00:00+00:00"
