"""The ``webhooks_dispatch`` job: a ledger deposit becomes a delivery attempt, built from Settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from apscheduler.util import ref_to_obj

from keeper.config import Settings
from keeper.jobs import JOBS
from keeper.jobs.scheduler import JobRun
from keeper.ledger import Ledger, TransferSpec
from keeper.notifications import create_endpoint, delivery_log, master_secret


def test_job_announces_a_credited_deposit(db_url: str, tmp_path: Path,
                                          receiver_factory: Callable[..., Any]) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url, webhook_max_attempts=2)
    rec = receiver_factory()
    lg = Ledger(db_url, group_commit=False)
    try:
        created = create_endpoint(lg.engine, "alice", rec.url,
                                  master=master_secret(settings.secrets_dir), allow_loopback=True)
        lg.post(TransferSpec("dep-1", lg.omnibus_account("ETH", "vault:x"),
                             lg.client_account("alice", "ETH"), 10**18))
        [job] = [j for j in JOBS if j.name == "webhooks_dispatch"]
        run = JobRun(SimpleNamespace(ledger=lg, settings=settings), job.name, None)  # type: ignore[arg-type]
        # without webhook_allow_loopback the keeper refuses the loopback target (SSRF guard)
        assert ref_to_obj(job.func)(run) == 0
        assert rec.requests == []
        [attempt] = delivery_log(lg.engine, "alice", created.endpoint.id)
        assert attempt.event.startswith("deposit.credited") and attempt.event_id.startswith(
            "deposit.credited:")
        assert attempt.status_code is None and attempt.error.startswith("refused:")
    finally:
        lg.close()
    assert (settings.secrets_dir / "client-webhooks.secret").stat().st_mode & 0o077 == 0

