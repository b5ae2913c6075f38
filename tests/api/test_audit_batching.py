"""Request audit records are appended in batches: reads wait for the next flush (every
``FLUSH_S``) and go to the group committer together; a mutating request's record goes at once;
a clean stop writes every record; request ids stay unique."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy import text

from api.audit import RequestAudit, request_id_of
from api.main import create_app
from keeper.audit import AuditRecord, AuditTrail, verify_trail
from keeper.ledger import make_engine
from strongroom_testkit.apiworld import World


def _api_operations(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        assert verify_trail(engine).ok
        with engine.connect() as conn:
            bodies = conn.execute(text("SELECT body FROM audit_records ORDER BY seq")).scalars()
            ops = [json.loads(b)["record"]["operation"] for b in bodies]
    finally:
        engine.dispose()
    return [op for op in ops if op.startswith("api.")]


def _record(method: str, n: int) -> AuditRecord:
    return AuditRecord("anonymous", f"api.{method} /v1/x{n}", {"path": {}, "query": {}},
                       {"status": 200})


def test_reads_wait_for_the_flush_and_writes_go_at_once(world: World) -> None:
    trail = AuditTrail(world.url)
    audit = RequestAudit(trail, SimpleNamespace(), flush_s=None)  # flushed by hand
    try:
        for n in range(3):
            audit.submit(_record("GET", n))
        audit.submit(_record("POST", 9))
        trail.close()  # commits what reached the group committer
        assert _api_operations(world.url) == ["api.POST /v1/x9"]
        audit.flush()  # one submit of the three reads
        trail.close()
        assert _api_operations(world.url) == ["api.POST /v1/x9"] + [
            f"api.GET /v1/x{n}" for n in range(3)]
    finally:
        audit.close()
        trail.close()


def test_a_clean_stop_writes_every_record(world: World) -> None:
    app = create_app(world.settings())
    with TestClient(app) as api:
        for _ in range(25):
            assert api.get("/v1/balances", headers=world.alice.headers).status_code == 200
    assert _api_operations(world.url) == ["api.GET /v1/balances"] * 25
    assert app.state.audit_failed == 0 and app.state.audit_dropped == 0


def test_the_backlog_bound_counts_records_waiting_for_the_flush(world: World) -> None:
    trail = AuditTrail(world.url)
    counters = SimpleNamespace()
    audit = RequestAudit(trail, counters, max_pending=2, flush_s=None)
    try:
        for n in range(3):
            audit.submit(_record("GET", n))
        assert counters.audit_dropped == 1
        audit.close()
        trail.close()
        assert _api_operations(world.url) == ["api.GET /v1/x0", "api.GET /v1/x1"]
    finally:
        audit.close()
        trail.close()


def test_request_ids_are_fresh_random_hex() -> None:
    ids = {request_id_of({"headers": []}) for _ in range(5000)}
    assert len(ids) == 5000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
