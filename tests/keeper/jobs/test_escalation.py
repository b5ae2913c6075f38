"""A job that keeps failing escalates (no chain needed: the node is unreachable on purpose)."""

from __future__ import annotations

import pytest

from keeper.config import Settings
from keeper.deployments import Deployment
from keeper.jobs import KeeperJobs
from strongroom_testkit.dbtemplate import fresh_url

DEPLOYMENT = Deployment(1, {"vault": "0x" + "11" * 20})


@pytest.fixture
def jobs(tmp_path):
    url = fresh_url(tmp_path / 'keeper.db', migrated=True)
    alerts: list = []
    dead = Settings(data_dir=tmp_path, database_url=url, rpc_url="http://127.0.0.1:9",
                    confirmations=2)
    j = KeeperJobs(dead, DEPLOYMENT, escalate_after=3, on_alert=lambda k, m: alerts.append(k))
    j.alerts_seen = alerts
    yield j
    j.stop()


def test_consecutive_failures_escalate_once_per_streak(jobs):
    for _ in range(2):
        assert jobs.follow_once() == 0
    assert jobs.streaks["follow"] == 2
    assert jobs.alerts_seen == [] and jobs.ledger.alerts() == []  # not yet
    jobs.follow_once()
    assert jobs.alerts_seen == ["job_failing"]
    kind, message, _ = jobs.ledger.alerts()[0]
    assert kind == "job_failing" and "follow job failed 3 times" in message
    for _ in range(3):
        jobs.follow_once()
    assert jobs.alerts_seen == ["job_failing"]  # once per streak, not every run
    assert len(jobs.ledger.alerts()) == 1
    assert jobs.follower.cursor() is None  # no run committed anything
    assert jobs.failures == 6 and jobs.runs == 0


def test_recovery_after_an_escalated_streak_is_reported(jobs):
    real = jobs.ledger.expire_holds
    jobs.ledger.expire_holds = lambda: 1 / 0  # the database refuses: the job fails
    for _ in range(3):
        assert jobs.expire_once() == 0
    jobs.ledger.expire_holds = real
    assert jobs.expire_once() == 0
    assert jobs.alerts_seen == ["job_failing", "job_recovered"]
    assert [a[0] for a in jobs.ledger.alerts()] == ["job_failing", "job_recovered"]
    assert jobs.streaks["expire_holds"] == 0
