"""The keeper's forensics jobs on the fork, against a deployed system: the mirror job follows
the deployment's tokens, and the detection job raises a fan-in into an outsider's address to the
ops outbox while the vault (our own wallet, receiving from many by design) raises nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keeper.config import Settings
from keeper.deployments import Deployment
from keeper.forensics import jobs as fjobs
from keeper.forensics import stored_alerts
from keeper.jobs import JobRun, KeeperJobs
from scripts.deployments import deploy_system, local_config
from strongroom_testkit.anvil import mine
from strongroom_testkit.dbtemplate import fresh_url
from strongroom_testkit.forensics import mint_usdc

pytestmark = pytest.mark.fork
U = 10**6


def test_jobs_mirror_the_deployment_and_alert_fan_in_except_into_our_vault(
        accounts, chain, usdc, tmp_path, rpc_url, w3):
    system = Deployment.from_json(deploy_system(accounts[0], local_config(),
                                                path=tmp_path / "deployments.json"))
    url = fresh_url(tmp_path / 'keeper.db', migrated=True)
    host = KeeperJobs(Settings(data_dir=tmp_path, database_url=url, rpc_url=rpc_url,
                               confirmations=2), system)
    try:
        vault = system.address("vault")
        outsider = accounts[9].address
        for i in range(1, 7):  # six senders pay the outsider, then each deposits to the vault
            payer = accounts[i]
            mint_usdc(accounts, chain, usdc, payer.address, 10_000 * U)
            usdc.transfer(outsider, 2_000 * U, sender=payer)
            usdc.transfer(vault, 2_000 * U, sender=payer)
        mine(w3, 1)
        run = JobRun(host, "forensics_mirror", datetime.now(UTC))
        assert fjobs.mirror(run) >= 18  # mints, payments and deposits
        assert fjobs.detect(JobRun(host, "forensics_detect", datetime.now(UTC))) >= 1
        fans = stored_alerts(host.ledger.engine, detector="fan_in")
        assert [a.subject for a in fans] == [outsider.lower()]
        raised = [a for a in host.ledger.alerts() if a[0] == "anomaly_fan_in"]
        assert len(raised) == 1 and outsider.lower() in raised[0][1]
    finally:
        host.stop()
