"""Every API request leaves an audit record in the hash chain (one middleware): who (the
authenticated client, else ``anonymous``), ``api.<METHOD> <route template>``, the path and query
parameters (credential-like ones redacted, never the Authorization header) and the status."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import text

from api.main import create_app
from keeper.audit import verify_trail
from keeper.ledger import make_engine
from strongroom_testkit.apiworld import World


def _records(world: World) -> list[dict]:
    engine = make_engine(world.url)
    try:
        report = verify_trail(engine)
        with engine.connect() as conn:
            bodies = conn.execute(text("SELECT body FROM audit_records ORDER BY seq")).scalars()
            records = [json.loads(b)["record"] for b in bodies]
    finally:
        engine.dispose()
    assert report.ok, report.summary()
    return records


def test_a_balance_read_is_audited_and_the_chain_verifies(world: World) -> None:
    with TestClient(create_app(world.settings())) as api:
        assert api.get("/v1/balances", headers=world.alice.headers).status_code == 200
    [rec] = [r for r in _records(world) if r["operation"].startswith("api.")]
    assert rec["operation"] == "api.GET /v1/balances"
    assert rec["actor"] == str(world.alice.client.id)
    assert rec["result"] == {"status": 200}
    assert world.alice.key.api_key not in json.dumps(rec)


def test_a_refused_request_is_audited_as_anonymous(world: World) -> None:
    with TestClient(create_app(world.settings())) as api:
        r = api.get("/v1/statements/ETH/2026/11?api_key=sr_x_leak",
                    headers={"Authorization": "Bearer sr_bogus_secretvalue"})
        assert r.status_code == 401
    [rec] = [r for r in _records(world) if r["operation"].startswith("api.")]
    assert rec["actor"] == "anonymous" and rec["result"] == {"status": 401}
    assert rec["operation"] == "api.GET /v1/statements/{asset}/{year}/{month}"
    assert rec["params"]["path"] == {"asset": "ETH", "year": "2026", "month": "11"}
    assert rec["params"]["query"] == {"api_key": "[redacted]"}
    dumped = json.dumps(rec)
    assert "secretvalue" not in dumped and "sr_x_leak" not in dumped


def test_an_unknown_path_is_audited_without_echoing_it(world: World) -> None:
    with TestClient(create_app(world.settings())) as api:
        assert api.get("/v1/" + "x" * 5000).status_code == 404
    [rec] = [r for r in _records(world) if r["operation"].startswith("api.")]
    assert rec["operation"] == "api.GET <unmatched>" and rec["result"] == {"status": 404}
    assert "xxxx" not in json.dumps(rec)


def test_an_audit_backlog_never_fails_a_request(world: World) -> None:
    """Beyond the backlog bound a record is dropped and counted; the request is still answered."""
    app = create_app(world.settings())
    with TestClient(app) as api:
        app.state.audit.max_pending = 0  # as if the database had stalled with records queued
        assert api.get("/v1/balances", headers=world.alice.headers).status_code == 200
        assert app.state.audit.max_pending == 0 and app.state.audit_dropped == 1
    assert [r for r in _records(world) if r["operation"].startswith("api.")] == []
