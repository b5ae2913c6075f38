"""The daily jobs: client re-screening (names and profile countries from keeper.clients), SAR
deadline alerts, and the daily reconciliation report (types 2/3 against a real local ATLAS,
skipped with a logged reason when none is configured; a failed type fails the run, loudly)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.util import ref_to_obj
from sqlalchemy.orm import Session

from keeper.clients import close_client, create_client, set_profile
from keeper.compliance import ComplianceService, LabelledAddressRisk, ListStore, Movement, RuleSet
from keeper.config import Settings
from keeper.deployments import Deployment
from keeper.jobs import JOBS, KeeperJobs
from keeper.jobs.scheduler import JobRun
from keeper.keys.secrets import write_secret_file
from strongroom_testkit.dbtemplate import fresh_url
from strongroom_testkit.services import make_atlas

SLOT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
MIXER = "0x" + "66" * 20
SANCTIONS = b"""uid,kind,name,aliases,countries,birth_dates,addresses
E1,person,"KARIMOV, Rustam",,UZ,,
__end__,1
"""


def _jobs(tmp_path: Path, **settings: object) -> KeeperJobs:
    url = fresh_url(tmp_path / 'keeper.db', migrated=True)
    (tmp_path / "prices.json").write_text(json.dumps(
        {"as_of": datetime.now(UTC).isoformat(), "prices": {"ETH": 300_000, "BTC": 9_000_000}}))
    return KeeperJobs(Settings(data_dir=tmp_path, database_url=url, rpc_url="http://127.0.0.1:9",
                               **settings), Deployment(1, {"vault": "0x" + "11" * 20}))


def _run(jobs: KeeperJobs, name: str, slot: datetime = SLOT) -> object:
    [job] = [j for j in JOBS if j.name == name]
    return ref_to_obj(job.func)(JobRun(jobs, name, slot))


@pytest.fixture
def jobs(tmp_path: Path) -> Iterator[KeeperJobs]:
    kj = _jobs(tmp_path)
    yield kj
    kj.ledger.close()


def _alerts(jobs: KeeperJobs, kind: str) -> list[tuple]:
    return [a for a in jobs.ledger.alerts() if a[0] == kind]


def test_daily_rescreen_alerts_each_listed_client_once_a_day(jobs: KeeperJobs) -> None:
    engine = jobs.ledger.engine
    ListStore(engine).import_list("INTERNAL", SANCTIONS, "own-csv")
    with Session(engine) as s:
        hit = create_client(s, jobs.ledger, "Rustam Karimov").id
        closed = create_client(s, jobs.ledger, "Karimov Rustam").id
        clean = create_client(s, jobs.ledger, "Harbour Pension Fund").id
    set_profile(engine, hit, actor="ops", country="UZ")
    close_client(engine, closed, "relationship ended", "ops")
    assert _run(jobs, "compliance_rescreen") == 1
    assert _run(jobs, "compliance_rescreen") == 1  # same day: no second alert
    alerts = _alerts(jobs, "compliance_rescreen_hit")
    assert [a[2] for a in alerts] == [f"rescreen:2026-11-24:{hit}"]
    assert "E1" in alerts[0][1] and "Karimov" not in alerts[0][1]  # the entry, not the name
    assert clean not in alerts[0][1] and closed not in alerts[0][1]


def test_sar_deadline_job_alerts_drafts_due_soon(jobs: KeeperJobs) -> None:
    engine = jobs.ledger.engine
    opened = SLOT - timedelta(days=27)  # due in 3 days: inside the warning window
    gate = ComplianceService(engine, RuleSet.load(), risk=LabelledAddressRisk({"mixer": [MIXER]}),
                             clock=lambda: opened)
    v = gate.screen(Movement("w1", "c1", "withdrawal", "ETH", 10**18, 300_000, opened,
                             address=MIXER))
    assert v.outcome == "block" and v.report_ids
    assert _run(jobs, "compliance_sar_deadlines", SLOT - timedelta(days=10)) == 0  # not yet due
    assert _run(jobs, "compliance_sar_deadlines") == 1
    assert _run(jobs, "compliance_sar_deadlines") == 1
    [alert] = _alerts(jobs, "sar_deadline")
    assert f"SAR draft {v.report_ids[0]}" in alert[1]


def test_daily_recon_without_core_banking_skips_2_3_and_a_failed_type_fails_the_run(
        jobs: KeeperJobs, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "keeper.recon")
    with pytest.raises(RuntimeError, match="type1"):  # no chain to read: type 1 cannot run
        _run(jobs, "recon_daily")
    assert "types 2 and 3 skipped: no core banking configured" in caplog.text
    [failed] = _alerts(jobs, "recon_daily_failed")
    assert failed[2] == "recon_daily_failed:2026-11-24"
    assert not (tmp_path / "reports").exists()  # nothing half-written


def test_daily_recon_runs_type2_against_atlas_and_writes_html_and_pdf(tmp_path: Path) -> None:
    atlas = make_atlas(tmp_path / "atlas", "http://127.0.0.1:9")
    atlas.start()
    secrets = tmp_path / "secrets"
    write_secret_file(secrets / "atlas-api.key", atlas.api_key)
    jobs = _jobs(tmp_path, atlas_url=atlas.url, secrets_dir=secrets)
    try:
        with pytest.raises(RuntimeError) as failed:
            _run(jobs, "recon_daily")
    finally:
        jobs.ledger.close()
        atlas.stop()
    assert "type2" not in str(failed.value)  # types 1 and 3 need the chain; type 2 ran
    out = tmp_path / "reports" / date(2026, 11, 24).isoformat()
    assert sorted(p.name for p in out.iterdir()) == ["recon-type2.html", "recon-type2.pdf"]
    assert "Type 2: core banking vs sub-ledger" in (out / "recon-type2.html").read_text()
    pdf = (out / "recon-type2.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
