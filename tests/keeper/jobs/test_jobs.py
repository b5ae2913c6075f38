"""The keeper's scheduled jobs on the fork: the deployed system's deposits reach the ledger
through the scheduler, and an unreachable node fails a run without touching the ledger."""

from __future__ import annotations

import time

import pytest

from keeper.config import Settings
from keeper.deployments import Deployment
from keeper.jobs import KeeperJobs
from keeper.ledger import Ledger
from scripts.deployments import deploy_system, local_config
from strongroom_testkit.dbtemplate import fresh_url

pytestmark = pytest.mark.fork


@pytest.fixture
def system(accounts, tmp_path):
    return Deployment.from_json(
        deploy_system(accounts[0], local_config(), path=tmp_path / "deployments.json"))


@pytest.fixture
def settings(tmp_path, rpc_url):
    url = fresh_url(tmp_path / 'keeper.db', migrated=True)
    return Settings(data_dir=tmp_path, database_url=url, rpc_url=rpc_url, confirmations=2)


def eth_of(ledger: Ledger, client: str) -> int:
    return ledger.balance(ledger.client_account(client, "ETH")).credit_balance


def test_follow_job_mirrors_a_deposit_into_the_deployed_vault(project, accounts, chain, system,
                                                              settings):
    jobs = KeeperJobs(settings, system, poll_seconds=0.2)
    try:
        ref = (42).to_bytes(32, "big")
        jobs.ledger.register_client_ref(ref, "client-42")
        vault = project.Vault.at(system.address("vault"))
        vault.depositEth(ref, value=3 * 10**17, sender=accounts[3])
        jobs.follow_once()
        assert eth_of(jobs.ledger, "client-42") == 0  # not yet confirmed
        chain.mine(2)
        jobs.start()
        deadline = time.monotonic() + 30
        while eth_of(jobs.ledger, "client-42") == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert eth_of(jobs.ledger, "client-42") == 3 * 10**17
        assert jobs.runs >= 1
        assert jobs.failures == 0
        assert jobs.ledger.verify_invariants() == []
    finally:
        jobs.stop()
    assert not jobs.scheduler.running


def test_unreachable_node_fails_the_run_and_changes_nothing(system, settings, tmp_path):
    dead = Settings(data_dir=tmp_path, database_url=settings.database_url,
                    rpc_url="http://127.0.0.1:9", confirmations=2)
    jobs = KeeperJobs(dead, system)
    try:
        assert jobs.follow_once() == 0
        assert jobs.failures == 1
        assert jobs.runs == 0
        assert jobs.follower.cursor() is None  # no checkpoint written
        assert jobs.ledger.verify_invariants() == []
    finally:
        jobs.stop()
