"""Request ids and error hygiene: every answer carries ``X-Request-ID`` (a sane incoming one is
kept, anything else replaced), the audit record names it, a forced 500 leaks nothing and 422s say
what is wrong."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import text

from api.main import create_app
from keeper.ledger import make_engine
from strongroom_testkit.apiworld import World

GENERATED = re.compile(r"[0-9a-f]{32}")


class Echo(BaseModel):
    """Body of the test-only echo route."""

    value: int


def _api_records(world: World) -> list[dict]:
    engine = make_engine(world.url)
    try:
        with engine.connect() as conn:
            bodies = conn.execute(text("SELECT body FROM audit_records ORDER BY seq")).scalars()
            records = [json.loads(b)["record"] for b in bodies]
    finally:
        engine.dispose()
    return [r for r in records if r["operation"].startswith("api.")]


@pytest.mark.parametrize(("path", "status"), [
    ("/v1/balances", 200), ("/v1/me?x=1", 200), ("/nowhere", 404),
    ("/v1/statements/DOGE/2026/13", 422),
])
def test_every_answer_has_a_generated_request_id(api: TestClient, world: World, path: str,
                                                 status: int) -> None:
    first = api.get(path, headers=world.alice.headers)
    second = api.get(path, headers=world.alice.headers)
    assert first.status_code == second.status_code == status
    assert GENERATED.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_a_sane_incoming_id_is_kept_and_audited(world: World) -> None:
    with TestClient(create_app(world.settings())) as api:
        r = api.get("/v1/balances", headers={**world.alice.headers, "X-Request-ID": "abc-123.x:y"})
        assert r.status_code == 200 and r.headers["x-request-id"] == "abc-123.x:y"
        assert r.headers.get_list("x-request-id") == ["abc-123.x:y"]
        bad = api.get("/v1/me", headers={"X-Request-ID": "<script>" + "x" * 100})
        assert bad.status_code == 401 and GENERATED.fullmatch(bad.headers["x-request-id"])
    records = _api_records(world)
    assert [r["params"]["request_id"] for r in records] == ["abc-123.x:y",
                                                            bad.headers["x-request-id"]]
    assert "<script>" not in json.dumps(records)


@pytest.mark.parametrize("incoming", [b"", b"a" * 65, b"has space", b"semi;colon",
                                      "é".encode(), b"\x00\x7f"])
def test_an_insane_incoming_id_is_replaced(api: TestClient, incoming: bytes) -> None:
    r = api.get("/nowhere", headers={"X-Request-ID": incoming})
    assert GENERATED.fullmatch(r.headers["x-request-id"])


def test_a_forced_500_leaks_nothing_and_carries_the_request_id(world: World) -> None:
    app = create_app(world.settings())

    def boom() -> None:
        raise RuntimeError("db password=hunter2 at /secret/path.py line 42")

    app.add_api_route("/test-only/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as api:
        r = api.get("/test-only/boom", headers={"X-Request-ID": "trace-500"})
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "internal_error", "message": "internal server error"}}
    assert r.headers["x-request-id"] == "trace-500"
    for leak in ("hunter2", "Traceback", "RuntimeError", "secret", ".py"):
        assert leak not in r.text
    [rec] = _api_records(world)
    assert rec["result"] == {"status": 500} and rec["params"]["request_id"] == "trace-500"


def test_422_bodies_name_each_problem(api: TestClient, world: World) -> None:
    r = api.get("/v1/statements/DOGE/2026/13", headers=world.alice.headers)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    assert {tuple(d["loc"]) for d in err["details"]} == {("path", "asset"), ("path", "month")}
    assert "path.asset" in err["message"] and "path.month" in err["message"]
    assert "Traceback" not in r.text


def test_an_undecodable_json_body_is_a_clear_422(world: World) -> None:
    """Bytes that are not UTF-8 JSON were an undocumented 400 "error parsing the body"."""
    app = create_app(world.settings())

    def echo(body: Echo) -> dict[str, int]:
        return {"value": body.value}

    app.add_api_route("/test-only/echo", echo, methods=["POST"])
    with TestClient(app) as api:
        r = api.post("/test-only/echo", content=b"\xc3V\xff",
                     headers={**world.alice.headers, "Content-Type": "application/json"})
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["code"] == "validation_error" and err["details"][0]["loc"] == ["body"]
        assert err["details"][0]["type"] == "json_invalid"
        assert api.post("/test-only/echo", json={"value": 7}).json() == {"value": 7}
