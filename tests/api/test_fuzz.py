"""Property-based fuzzing of the OpenAPI schema, in process (schemathesis over ASGI).

Every operation is called with generated path parameters, authenticated as Alice with each kind
of credential: her API key, and an OAuth2 access token (JWT) from ``POST /oauth/token`` granted
every scope (so the scoped routes are reached too). No response may be a 5xx, and every response
must match its documented status code, content type and schema. The system is deployed (a
deployments file exists), so deposit instructions have no legitimate reason to answer 503;
the trading routes (:data:`TRADING`) need vendor services this tier does not run. The rate
limit is raised out of the way (it has its own tests) so examples reach the routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from sqlalchemy.orm import Session

from api.main import create_app
from keeper.auth import create_oauth_client
from keeper.clients import SCOPES
from keeper.keys.secrets import write_secret_file
from keeper.ledger import make_engine
from keeper.partners import PARTNER_WEBHOOK_SECRET_FILE
from strongroom_testkit.apiworld import World, build_world
from strongroom_testkit.fuzzing import CHECKS, DESK, TRADING, asgi_schema


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One deployed world for the whole module (fuzzing only reads)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("STRONGROOM_DEPLOYMENTS_DIR", raising=False)
        world = build_world(Path(tmp_path_factory.mktemp("fuzz")))
        world.deploy()
        yield world


@pytest.fixture(scope="module")
def fuzz_app(fuzz_world: World) -> FastAPI:
    """The app under fuzzing (a custody partner configured, so its webhook checks signatures
    instead of answering 503)."""
    settings = fuzz_world.settings()
    write_secret_file(settings.secrets_dir / PARTNER_WEBHOOK_SECRET_FILE, "fuzz-partner-secret")
    return create_app(settings.model_copy(update={"rate_limit_per_minute": 10**9,
                                                  "partner_url": "http://127.0.0.1:9"}))


@pytest.fixture(scope="module")
def jwt_headers(fuzz_world: World, fuzz_app: FastAPI) -> dict[str, str]:
    """Alice's Authorization header with an access token granted every scope."""
    engine = make_engine(fuzz_world.url)
    try:
        with Session(engine) as s:
            oc = create_oauth_client(s, fuzz_world.alice.client.id, SCOPES)
    finally:
        engine.dispose()
    with TestClient(fuzz_app) as api:
        r = api.post("/oauth/token", data={"grant_type": "client_credentials",
                                           "client_id": oc.oauth_client_id,
                                           "client_secret": oc.client_secret})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> schemathesis.BaseSchema:
    """The app's own OpenAPI schema, loaded in process."""
    return asgi_schema(fuzz_app)


# The trading routes answer 503 by design until core banking (ATLAS) and the issuer are
# configured; the issuer needs a chain, which this pure tier has not. They are fuzzed with both
# running in tests/api/test_fuzz_trading.py (fork tier).
schema = (schemathesis.pytest.from_fixture("api_schema").exclude(path_regex=TRADING)
          .exclude(path_regex=DESK))


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_documented_responses(case: schemathesis.Case,
                                                   fuzz_world: World) -> None:
    case.call_and_validate(headers=fuzz_world.alice.headers, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_with_an_access_token(case: schemathesis.Case,
                                               jwt_headers: dict[str, str]) -> None:
    case.call_and_validate(headers=jwt_headers, checks=CHECKS)
