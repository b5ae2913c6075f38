"""The scheduled ``audit_anchor`` job signs the chain head with the set-up's ``audit-anchor``
HSM key (SoftHSM2 over PKCS#11) into ``settings.audit_anchors``; the KeeperJobs' alert records
land in the audit chain in their own transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from apscheduler.util import ref_to_obj

from keeper.alerts import AlertDispatcher
from keeper.audit import AuditRecord, AuditTrail, append, record_in, verify_trail
from keeper.audit import anchors as anc
from keeper.config import Settings
from keeper.deployments import Deployment
from keeper.jobs import JOBS, KeeperJobs
from keeper.jobs.scheduler import JobRun
from keeper.keys.hsm import AUDIT_ANCHOR_KEY, DEFAULT_EC_KEYS, HsmSigner, ensure_local_token
from strongroom_testkit.dbtemplate import migrate_fresh

DEPLOYMENT = Deployment(1, {"vault": "0x" + "11" * 20})


def test_setup_creates_the_anchor_key() -> None:
    assert AUDIT_ANCHOR_KEY == "audit-anchor" and AUDIT_ANCHOR_KEY in DEFAULT_EC_KEYS


def test_the_anchor_job_is_scheduled_every_minute() -> None:
    [job] = [j for j in JOBS if j.name == "audit_anchor"]
    assert job.every == 60.0 and ref_to_obj(job.func) is ref_to_obj("keeper.audit.jobs:anchor_head")


def _keeper(tmp_path: Path, hsm_data: Path, db_url: str) -> KeeperJobs:
    migrate_fresh(db_url)
    settings = Settings(data_dir=tmp_path, database_url=db_url, rpc_url="http://127.0.0.1:9",
                        audit_anchors=tmp_path / "anchors" / "a.jsonl")
    hsm = ensure_local_token(hsm_data, ec_keys=(AUDIT_ANCHOR_KEY,))
    return KeeperJobs(settings, DEPLOYMENT, hsm=hsm)


def test_the_anchor_job_signs_the_head_with_the_hsm_key(tmp_path, hsm_data, db_url) -> None:
    jobs = _keeper(tmp_path, hsm_data, db_url)
    [job] = [j for j in JOBS if j.name == "audit_anchor"]
    run = ref_to_obj(job.func)
    try:
        with jobs.ledger.engine.begin() as conn:
            append(conn, [AuditRecord("test", "t.op", {"n": i}) for i in range(3)])
        assert run(JobRun(jobs, job.name, datetime.now(UTC))) == 3
        with jobs.ledger.engine.begin() as conn:
            append(conn, AuditRecord("test", "t.op", {"n": 3}))
        assert run(JobRun(jobs, job.name, datetime.now(UTC))) == 4
    finally:
        jobs.ledger.close()
    signer = HsmSigner(ensure_local_token(hsm_data, ec_keys=(AUDIT_ANCHOR_KEY,)), AUDIT_ANCHOR_KEY)
    try:
        pub = signer.public_key()
    finally:
        signer.close()
    found, bad = anc.parse(tmp_path / "anchors" / "a.jsonl")
    good, problems = anc.check(found, pub)
    assert bad == problems == [] and [a.seq for a in good] == [3, 4]
    with AuditTrail(db_url) as trail:
        report = verify_trail(trail.engine, tmp_path / "anchors" / "a.jsonl", pub)
    assert report.ok and report.anchors == 2


def test_the_anchor_job_without_an_hsm_fails_loudly(tmp_path, db_url) -> None:
    migrate_fresh(db_url)
    jobs = KeeperJobs(Settings(data_dir=tmp_path, database_url=db_url,
                               rpc_url="http://127.0.0.1:9"), DEPLOYMENT)
    run = ref_to_obj("keeper.audit.jobs:anchor_head")
    try:
        with pytest.raises(RuntimeError, match="no HSM"):
            run(JobRun(jobs, "audit_anchor", datetime.now(UTC)))
    finally:
        jobs.ledger.close()
    assert not (tmp_path / "audit" / "anchors.jsonl").exists()


def test_keeper_alert_deliveries_are_audited_in_the_chain(tmp_path, db_url) -> None:
    migrate_fresh(db_url)
    jobs = KeeperJobs(Settings(data_dir=tmp_path, database_url=db_url,
                               rpc_url="http://127.0.0.1:9"), DEPLOYMENT)
    try:
        assert isinstance(jobs.alerts, AlertDispatcher) and jobs.alerts.audit is record_in
        jobs.ledger.raise_alert("job_failing", "audited", "aud-1")
        assert jobs.alerts.dispatch_once() == 1
        report = verify_trail(jobs.ledger.engine)
    finally:
        jobs.ledger.close()
    assert report.ok and report.head.seq == 2  # enqueue + deliver on the log channel
