"""The OpenAPI document declares how to authenticate: the OAuth2 client-credentials flow
(``tokenUrl: /oauth/token`` and every scope the API knows) beside the bearer API key, and each
protected operation lists, for both schemes, exactly the scopes its route requires. The scopes
expected are read from the routes' own scope checks (``Security(get_principal, scopes=...)`` or
``Security(get_current_client, ...)``),
not from the document; a few are also spelled out. Both credentials still work on a scoped route.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.deps import get_current_client, get_principal
from keeper.auth import create_oauth_client
from keeper.clients import CLIENT_READ, COREBANKING, CUSTOMER_TRADE, SCOPES
from keeper.ledger import make_engine
from strongroom_testkit.apiworld import World

SCHEMES = ("ApiKey", "OAuth2")
SCOPE_CHECKS = (get_principal, get_current_client)  # the dependencies that demand scopes


def required_scopes(dependant: Dependant) -> set[str] | None:
    """The scopes the route's scope checks demand (None: the route has none)."""
    found: set[str] | None = None
    for sub in dependant.dependencies:
        if sub.call in SCOPE_CHECKS:
            found = (found or set()) | set(sub.parent_oauth_scopes or []) | \
                set(sub.own_oauth_scopes or [])
        deeper = required_scopes(sub)
        if deeper is not None:
            found = (found or set()) | deeper
    return found


def operations(app: FastAPI) -> list[tuple[str, str, set[str] | None]]:
    """``(path, method, scopes)`` of every documented operation."""
    out = []
    for ctx in iter_route_contexts(app.routes):  # the app's routes, routers' included
        route = ctx.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            for method in route.methods:
                out.append((str(ctx.path), method.lower(), required_scopes(route.dependant)))
    return out


def test_oauth2_client_credentials_scheme_is_declared(api: TestClient) -> None:
    schemes = api.get("/openapi.json").json()["components"]["securitySchemes"]
    oauth = schemes["OAuth2"]
    assert oauth["type"] == "oauth2"
    assert set(oauth["flows"]) == {"clientCredentials"}
    flow = oauth["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/oauth/token"
    assert flow["scopes"] == SCOPES  # every scope, with its description
    assert {CLIENT_READ, CUSTOMER_TRADE, COREBANKING, "partner", "signer", "ops"} == set(SCOPES)
    assert schemes["ApiKey"]["type"] == "http" and schemes["ApiKey"]["scheme"] == "bearer"


def test_each_protected_operation_lists_its_scopes(app: FastAPI, api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    protected = 0
    for path, method, scopes in operations(app):
        security = paths[path][method].get("security")
        if scopes is None:
            assert security is None, (method, path, security)
            continue
        protected += 1
        assert scopes, (method, path)  # every authenticated route demands at least one scope
        assert sorted((name, sorted(s)) for req in security for name, s in req.items()) == \
            [(name, sorted(scopes)) for name in SCHEMES], (method, path, security)
    assert protected >= 20
    spelled_out = {("/v1/orders/buy", "post"): [CUSTOMER_TRADE],
                   ("/v1/withdrawals", "post"): [CUSTOMER_TRADE],
                   ("/stablecoin/notify-deposit", "post"): [COREBANKING],
                   ("/v1/me", "get"): [CLIENT_READ],
                   ("/v1/orders/{order_id}", "get"): [CLIENT_READ]}
    for (path, method), scopes in spelled_out.items():
        assert paths[path][method]["security"] == [{"ApiKey": scopes}, {"OAuth2": scopes}], path
    for path, method in (("/health", "get"), ("/oauth/token", "post"), ("/v1/hooks/issuer", "post"),
                         ("/api/v1/safes/{address}/", "get")):
        assert "security" not in paths[path][method], path


def test_api_keys_and_access_tokens_both_pass_a_scoped_route(world: World, api: TestClient) -> None:
    engine = make_engine(world.url)
    try:
        with Session(engine) as s:
            oc = create_oauth_client(s, world.alice.client.id, [CLIENT_READ])
    finally:
        engine.dispose()
    r = api.post("/oauth/token", data={"grant_type": "client_credentials",
                                       "client_id": oc.oauth_client_id,
                                       "client_secret": oc.client_secret})
    assert r.status_code == 200, r.text
    token: dict[str, Any] = r.json()
    for headers in (world.alice.headers, {"Authorization": f"Bearer {token['access_token']}"}):
        me = api.get("/v1/me", headers=headers)
        assert me.status_code == 200 and me.json()["id"] == world.alice.client.id
    assert api.get("/v1/me").status_code == 401
