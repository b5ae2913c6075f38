"""``/v1/trading`` over the app built by ``create_app`` and the session's three venue services:
auth (no credential 401, a key without ``ops`` 403), an order routed and read back (fills, VWAP,
fees, baseline), a retry with the same id returning the same execution, a refusal (422 naming the
rule, nothing stored), an id reused for another order (409), the report as HTML and PDF, a
client's tax lots; 503 in the one error shape without a venue registry or with one that cannot
be read; and schemathesis over the ``/v1/trading`` routes with the registry configured (no 5xx,
every answer as documented; the shared fuzz world has no registry: 503 by design there)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from sqlalchemy.orm import Session

import keeper.clients as clients
from api.main import create_app
from keeper.keys.secrets import write_secret_file
from keeper.ledger import Ledger, make_engine
from strongroom_testkit.apiworld import build_world
from strongroom_testkit.fuzzing import CHECKS, asgi_schema
from strongroom_testkit.venues import venue_services  # noqa: F401  (session fixture)

BTC = 10**8
ORDER = {"id": "api-buy-1", "client_id": "api-c1", "symbol": "BTC/USD", "side": "buy",
         "amount": str(BTC), "jurisdiction": "US", "client_type": "institutional"}


@pytest.fixture(scope="module")
def desk_api(tmp_path_factory, venue_services):  # noqa: F811
    """The app over a migrated world with the venue registry configured, and two keys."""
    d = Path(tmp_path_factory.mktemp("desk-api"))
    world = build_world(d)
    registry = {"venues": []}
    for name, v in venue_services.items():
        write_secret_file(d / f"venue-{name}.key", v.api_key)
        registry["venues"].append({"id": name, "url": v.url, "api_key_file": f"venue-{name}.key"})
    (d / "venues.json").write_text(json.dumps(registry))
    settings = world.settings().model_copy(update={
        "trading_venues_file": d / "venues.json", "secrets_dir": d,
        "rate_limit_per_minute": 10**6})
    engine = make_engine(world.url)
    ledger = Ledger(engine, group_commit=False)
    ids = {}
    with Session(engine) as s:
        ops = clients.issue_key(s, world.alice.client.id, [clients.OPS]).api_key
        read = clients.issue_key(s, world.alice.client.id, [clients.CLIENT_READ]).api_key
        for name in ("us", "us2", "kp", "expired"):  # real clients with a KYC country
            ids[name] = clients.create_client(s, ledger, f"desk api {name}").id
    for name, cid in ids.items():
        clients.set_profile(engine, cid, actor="test", country="KP" if name == "kp" else "US",
                            kyc_valid_until=date(2020 if name == "expired" else 2099, 1, 1))
    ledger.close()
    engine.dispose()
    with TestClient(create_app(settings)) as api:
        yield SimpleNamespace(api=api, world=world, ops={"Authorization": f"Bearer {ops}"},
                              read={"Authorization": f"Bearer {read}"}, **ids)


def test_every_route_needs_an_ops_credential(desk_api):
    api = desk_api.api
    calls = [("POST", "/v1/trading/orders", ORDER), ("GET", "/v1/trading/orders/x", None),
             ("GET", "/v1/trading/orders/x/report", None),
             ("GET", "/v1/trading/clients/api-c1/taxlots", None)]
    for method, path, body in calls:
        r = api.request(method, path, json=body)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        r = api.request(method, path, json=body, headers=desk_api.read)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert api.get("/v1/trading/orders/api-buy-1", headers=desk_api.ops).status_code == 404


def test_an_order_routed_read_back_reported_and_in_the_lots(desk_api):
    api, ops = desk_api.api, desk_api.ops
    body = {**ORDER, "client_id": desk_api.us}
    r = api.post("/v1/trading/orders", json=body, headers=ops)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "filled" and order["filled"] == str(BTC)
    assert sum(int(f["amount"]) for f in order["fills"]) == BTC
    assert int(order["notional"]) == sum(int(f["cost"]) for f in order["fills"])
    assert int(order["fees"]) == sum(int(f["fee"]) for f in order["fills"]) > 0
    assert order["vwap"] is not None and order["baseline"] in {"deepbook", "fastlane"}
    assert "thirdex" not in {f["venue"] for f in order["fills"]}  # US rules forbid it
    assert api.get("/v1/trading/orders/api-buy-1", headers=ops).json() == order
    # a retry with the same id: the same execution, nothing routed again
    assert api.post("/v1/trading/orders", json=body, headers=ops).json() == order
    conflict = api.post("/v1/trading/orders", json={**body, "amount": str(2 * BTC)}, headers=ops)
    assert conflict.status_code == 409 and "already stored" in conflict.json()["error"]["message"]

    html = api.get("/v1/trading/orders/api-buy-1/report", headers=ops)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "api-buy-1" in html.text
    pdf = api.get("/v1/trading/orders/api-buy-1/report?format=pdf", headers=ops)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")

    lots = api.get(f"/v1/trading/clients/{desk_api.us}/taxlots", headers=ops).json()
    assert lots["client_id"] == desk_api.us
    assert sum(int(x["quantity"]) for x in lots["lots"]) == BTC
    assert sum(int(x["basis"]) for x in lots["lots"]) == int(order["notional"]) + int(order["fees"])
    assert api.get("/v1/trading/clients/nobody/taxlots", headers=ops).json()["lots"] == []


def test_a_refused_order_is_a_422_naming_the_rule_and_stores_nothing(desk_api):
    api, ops = desk_api.api, desk_api.ops
    kp = {**ORDER, "id": "api-kp-1", "client_id": desk_api.kp}
    del kp["jurisdiction"]  # omitted: the client's KYC country (KP), whose rules refuse it
    r = api.post("/v1/trading/orders", json=kp, headers=ops)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    assert "sanction" in r.json()["error"]["message"]
    assert api.get("/v1/trading/orders/api-kp-1", headers=ops).status_code == 404
    for bad in ({"amount": "0"}, {"amount": "1.5"}, {"symbol": "DOGE/USD"}, {"id": "a b"},
                {"jurisdiction": "usa"}, {"extra": 1}):
        r = api.post("/v1/trading/orders", json={**ORDER, **bad}, headers=ops)
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", bad


@pytest.mark.parametrize("case", ["unknown", "expired", "mismatch"])
def test_the_client_check_refuses_with_a_422_and_stores_nothing(desk_api, case):
    """An unknown client, one whose KYC expired, or a jurisdiction other than the client's KYC
    country (the message names both): 422 in the one error shape, nothing stored."""
    api, ops = desk_api.api, desk_api.ops
    client = {"unknown": "api-nobody", "expired": desk_api.expired, "mismatch": desk_api.us}[case]
    body = {**ORDER, "id": f"api-kyc-{case}", "client_id": client, "jurisdiction": "CH"}
    r = api.post("/v1/trading/orders", json=body, headers=ops)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", r.text
    message = r.json()["error"]["message"]
    assert {"unknown": "client.unknown", "expired": "client.status",
            "mismatch": "client.jurisdiction"}[case] in message
    if case == "mismatch":
        assert "'CH'" in message and "'US'" in message
    assert api.get(f"/v1/trading/orders/api-kyc-{case}", headers=ops).status_code == 404


def test_an_omitted_jurisdiction_is_the_clients_kyc_country(desk_api):
    api, ops = desk_api.api, desk_api.ops
    body = {k: v for k, v in ORDER.items() if k != "jurisdiction"}
    body.update(id="api-omit-1", client_id=desk_api.us, amount=str(BTC // 10))
    r = api.post("/v1/trading/orders", json=body, headers=ops)
    assert r.status_code == 201, r.text
    assert r.json()["jurisdiction"] == "US" and r.json()["filled"] == str(BTC // 10)
    assert "thirdex" not in {f["venue"] for f in r.json()["fills"]}  # the US rules


def test_an_order_nothing_could_fill_is_read_back_and_reported(desk_api):
    api, ops = desk_api.api, desk_api.ops
    body = {**ORDER, "id": "api-low-1", "client_id": desk_api.us2, "limit_price": "1"}
    r = api.post("/v1/trading/orders", json=body, headers=ops)
    assert r.status_code == 201, r.text
    assert r.json()["filled"] == "0" and r.json()["fills"] == []
    assert r.json()["status"] in {"rejected", "partial"}
    assert api.get("/v1/trading/orders/api-low-1", headers=ops).json() == r.json()
    assert api.get("/v1/trading/orders/api-low-1/report", headers=ops).status_code == 200
    assert api.get(f"/v1/trading/clients/{desk_api.us2}/taxlots",
                   headers=ops).json()["lots"] == []


def test_an_unreadable_venue_registry_is_a_503_until_it_is_fixed(desk_api, tmp_path):
    registry = {"venues": [{"id": "deepbook", "url": "http://127.0.0.1:9",
                            "api_key_file": "missing.key"}]}
    (tmp_path / "venues.json").write_text(json.dumps(registry))
    settings = desk_api.world.settings().model_copy(update={
        "trading_venues_file": tmp_path / "venues.json", "secrets_dir": tmp_path,
        "rate_limit_per_minute": 10**6})
    with TestClient(create_app(settings)) as api:
        r = api.get("/v1/trading/clients/api-c1/taxlots", headers=desk_api.ops)
        assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
        assert "missing.key" not in r.text
        write_secret_file(tmp_path / "missing.key", "k" * 32)  # the operator fixes it
        r = api.get("/v1/trading/clients/api-nobody/taxlots", headers=desk_api.ops)
        assert r.status_code == 200 and r.json()["lots"] == []


def test_without_a_venue_registry_every_route_is_a_503(desk_api, tmp_path):
    settings = desk_api.world.settings().model_copy(update={"rate_limit_per_minute": 10**6})
    with TestClient(create_app(settings)) as api:
        r = api.get("/v1/trading/orders/x", headers=desk_api.ops)
        assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
        r = api.post("/v1/trading/orders", json=ORDER, headers=desk_api.ops)
        assert r.status_code == 503


@pytest.fixture(scope="module")
def desk_schema(desk_api) -> schemathesis.BaseSchema:
    """The configured app's schema."""
    return asgi_schema(desk_api.api.app)


schema = schemathesis.pytest.from_fixture("desk_schema").exclude(path_regex=r"^(?!/v1/trading/)")


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzzed_requests_never_fail_and_answer_as_documented(case: schemathesis.Case,
                                                             desk_api) -> None:
    case.call_and_validate(headers=desk_api.ops, checks=CHECKS)
