"""Validation errors are clear 422s in the common error shape; the OpenAPI schema is generated."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from keeper.config import Settings
from strongroom_testkit.apiworld import World
from strongroom_testkit.dbtemplate import fresh_url


@pytest.mark.parametrize(
    ("path", "loc", "hint"),
    [
        ("/v1/statements/USDC/2026/13", ["path", "month"], "less than or equal to 12"),
        ("/v1/statements/USDC/2026/0", ["path", "month"], "greater than or equal to 1"),
        ("/v1/statements/USDC/1999/1", ["path", "year"], "greater than or equal to 2000"),
        ("/v1/statements/USDC/twenty/1", ["path", "year"], "valid integer"),
        ("/v1/statements/DOGE/2026/1", ["path", "asset"], "'ETH', 'USDC', 'USDT' or 'BTC'"),
        ("/v1/deposit-instructions/DOGE", ["path", "asset"], "'ETH', 'USDC' or 'USDT'"),
    ],
)
def test_validation_errors_are_clear_422s(
    api: TestClient, world: World, path: str, loc: list[str], hint: str
) -> None:
    r = api.get(path, headers=world.alice.headers)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    assert err["details"][0]["loc"] == loc
    assert hint in err["details"][0]["msg"]
    assert hint in err["message"]


def test_unknown_route_and_method_use_the_error_shape(api: TestClient, world: World) -> None:
    r = api.get("/v1/nothing-here", headers=world.alice.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = api.post("/v1/balances", headers=world.alice.headers)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_openapi_schema(api: TestClient) -> None:
    r = api.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    paths = spec["paths"]
    for p in ("/v1/me", "/v1/clients/{client_id}", "/v1/balances",
              "/v1/statements/{asset}/{year}/{month}", "/v1/deposit-instructions/{asset}"):
        assert set(paths[p]) == {"get"}, p  # read only
        op = paths[p]["get"]
        assert op["security"] == [{"ApiKey": ["customer:read"]}, {"OAuth2": ["customer:read"]}], p
        assert op["responses"]["401"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }, p
    assert spec["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    schemas = spec["components"]["schemas"]
    balance = schemas["BalanceOut"]["properties"]["balance"]
    assert balance["type"] == "string" and balance["pattern"] == "^-?[0-9]+$"
    line = schemas["StatementLineOut"]["properties"]
    assert line["amount"]["type"] == line["balance"]["type"] == "string"
    stmt = paths["/v1/statements/{asset}/{year}/{month}"]["get"]
    assert stmt["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    month = next(p for p in stmt["parameters"] if p["name"] == "month")
    assert (month["schema"]["minimum"], month["schema"]["maximum"]) == (1, 12)


def test_internal_errors_leak_nothing(tmp_path: Path, world: World) -> None:
    """A database without the clients schema: the 500 says nothing about SQL or the database."""
    empty = fresh_url(tmp_path / 'unmigrated.db')
    app = create_app(Settings(data_dir=tmp_path, database_url=empty, chain_id=1))
    with TestClient(app, raise_server_exceptions=False) as api:
        r = api.get("/v1/me", headers=world.alice.headers)
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "internal_error", "message": "internal server error"}}
