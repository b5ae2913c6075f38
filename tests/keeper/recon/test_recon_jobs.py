"""The scheduled recon escalation job: every overdue open break becomes one alert (once)."""

from __future__ import annotations

from datetime import UTC, datetime

from apscheduler.util import ref_to_obj

from keeper.audit import verify_trail
from keeper.config import Settings
from keeper.deployments import Deployment
from keeper.jobs import JOBS, KeeperJobs
from keeper.jobs.scheduler import JobRun
from keeper.recon import Finding
from keeper.recon.jobs import break_book
from strongroom_testkit.dbtemplate import fresh_url


def test_overdue_breaks_are_escalated_once_and_audited(tmp_path) -> None:
    url = fresh_url(tmp_path / 'recon.db', migrated=True)
    jobs = KeeperJobs(Settings(data_dir=tmp_path, database_url=url, rpc_url="http://127.0.0.1:9"),
                      Deployment(1, {"vault": "0x" + "11" * 20}))
    [job] = [j for j in JOBS if j.name == "recon_overdue"]
    run = ref_to_obj(job.func)
    try:
        book = break_book(jobs)
        stored = book.record("type1:test", 1, 7, {}, [
            Finding("omnibus", "USDC vault:0x1", "USDC", 2_000_000 * 10**4, 2_000_000, "gap"),
            Finding("omnibus", "USDC vault:0x2", "USDC", 10**4, 1, "dust")])
        [crit] = [b for b in book.breaks(stored.id) if b.size_class == "critical"]
        assert run(JobRun(jobs, job.name, datetime.now(UTC))) == 1
        assert run(JobRun(jobs, job.name, datetime.now(UTC))) == 0  # once per break
        alerts = [a for a in jobs.ledger.alerts() if a[0] == "recon_break_overdue"]
        report = verify_trail(jobs.ledger.engine)
    finally:
        jobs.ledger.close()
    assert len(alerts) == 1 and alerts[0][2] == f"recon_overdue:{crit.id}"
    assert report.ok and report.head.seq >= 1  # the break book's writes were audited
