"""The hourly type-1 reconciliation job on the fork: a real migrated database, the deployed
vault read over JSON-RPC, prices from settings; one run per hour slot."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from apscheduler.util import ref_to_obj

from keeper.config import Settings
from keeper.deployments import Deployment
from keeper.jobs import JOBS, KeeperJobs
from keeper.jobs.scheduler import JobRun
from keeper.ledger import TransferSpec
from keeper.recon.jobs import break_book
from scripts.deployments import deploy_system, local_config
from strongroom_testkit.dbtemplate import fresh_url

pytestmark = pytest.mark.fork


def test_type1_job_runs_once_per_hour_slot(accounts, tmp_path, rpc_url) -> None:
    system = Deployment.from_json(
        deploy_system(accounts[0], local_config(), path=tmp_path / "deployments.json"))
    url = fresh_url(tmp_path / 'keeper.db', migrated=True)
    (tmp_path / "prices.json").write_text(json.dumps(
        {"as_of": datetime.now(UTC).isoformat(), "prices": {"ETH": 300_000, "BTC": 9_000_000}}))
    jobs = KeeperJobs(Settings(data_dir=tmp_path, database_url=url, rpc_url=rpc_url), system)
    [job] = [j for j in JOBS if j.name == "recon_type1"]
    run = ref_to_obj(job.func)
    slot = datetime(2026, 11, 23, 10, 5, tzinfo=UTC)
    try:
        first = run(JobRun(jobs, job.name, slot))
        again = run(JobRun(jobs, job.name, slot.replace(minute=30)))
        stored = break_book(jobs).run(first)
        # the ledger now says the vault holds 1 ETH the chain does not have: next hour breaks
        lg = jobs.ledger
        vault = f"vault:{system.address('vault').lower()}"
        lg.post(TransferSpec("t1", lg.omnibus_account("ETH", vault),
                             lg.client_account("alice", "ETH"), 10**18))
        later = run(JobRun(jobs, job.name, slot.replace(hour=11)))
        book = break_book(jobs)
        failed, breaks = book.run(later), book.breaks(later)
    finally:
        jobs.ledger.close()
    assert first == again and stored.run_key == "type1:2026-11-23T10"
    assert stored.status == "PASS" and stored.block is not None
    assert later != first and failed.status == "FAIL"
    assert [(b.asset, b.difference) for b in breaks] == [("ETH", 10**18)]
