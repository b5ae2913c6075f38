"""The vendor stand-ins' shared back office (scripts.services.common): each service's worker
logs and names its threads under its own name, and signs webhooks under its own scheme."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from keeper.integrations.issuer import webhook as issuer_webhook
from keeper.partners import webhook as partner_webhook
from scripts.services.issuer.store import Store as IssuerStore
from scripts.services.issuer.worker import Worker as IssuerWorker
from scripts.services.partner.store import Store as PartnerStore
from scripts.services.partner.worker import Worker as PartnerWorker


@pytest.mark.parametrize(("worker_cls", "store_cls", "name", "verify"), [
    (IssuerWorker, IssuerStore, "issuer", issuer_webhook.verify),
    (PartnerWorker, PartnerStore, "partner", partner_webhook.verify),
])
def test_each_worker_reports_under_its_own_name(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                worker_cls: type, store_cls: type, name: str,
                                                verify: object) -> None:
    """The partner's worker used to log its failed passes as ``issuer.worker`` and name its
    threads ``issuer-*``: an operator reading the partner's log looked for the wrong service."""
    worker = worker_cls(store_cls(tmp_path / "db.sqlite"), None, confirmations=1,
                        webhook_url=None, webhook_secret=b"s" * 32, poll_s=0.01)
    assert {t.name for t in worker._threads} == {f"{name}-step", f"{name}-deliver"}
    def step() -> None:
        worker._stop.set()  # one pass only
        raise ConnectionError("node down")

    with caplog.at_level(logging.WARNING):
        worker._run(step)  # the pass fails and is logged
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        (f"{name}.worker", "step failed: ConnectionError")]
    body = b'{"event_id": "e"}'
    verify(b"s" * 32, worker.sign(b"s" * 32, body), body)  # its own header names
