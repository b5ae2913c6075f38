"""The keeper's scheduler runs the alert dispatch job: a job that keeps failing escalates to a
``job_failing`` alert that reaches a signed webhook (no chain: the node is unreachable)."""

from __future__ import annotations

import time

from keeper.alerts import WebhookChannel
from keeper.config import Settings
from keeper.deployments import Deployment
from keeper.jobs import KeeperJobs, recorded_runs
from strongroom_testkit.dbtemplate import fresh_url


def test_an_escalated_job_failure_is_delivered_by_the_scheduled_dispatch(tmp_path, receiver):
    url = fresh_url(tmp_path / 'keeper.db', migrated=True)
    dead = Settings(data_dir=tmp_path, database_url=url, rpc_url="http://127.0.0.1:9",
                    confirmations=2)
    audited: list[tuple[str, str]] = []
    jobs = KeeperJobs(dead, Deployment(1, {"vault": "0x" + "11" * 20}), poll_seconds=0.2,
                      alert_seconds=0.2, escalate_after=2, lease_ttl=30,
                      alert_channels=[WebhookChannel("ops", receiver.url, receiver.secret)],
                      audit=lambda conn, actor, op, params, result: audited.append(
                          (op, params["channel"])))
    try:
        jobs.start()
        deadline = time.monotonic() + 60
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        jobs.stop()
    assert [r["body"]["kind"] for r in receiver.requests] == ["job_failing"]
    assert receiver.requests[0]["valid"]
    assert "follow job failed 2 times" in receiver.requests[0]["body"]["message"]
    assert ("alert.deliver", "ops") in audited and ("alert.deliver", "log") in audited
    follow = recorded_runs(jobs.ledger.engine, "follow")
    assert {r.status for r in follow} <= {"failed", "missed"} and len(follow) >= 2
    assert all(r.error and "ConnectionError" in r.error for r in follow if r.status == "failed")
    assert jobs.scheduler.running is False and jobs.scheduler.leading is False
