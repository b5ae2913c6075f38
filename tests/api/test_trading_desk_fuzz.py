"""Schemathesis over the ``/v1/trading`` routes with a venue registry configured (the session's
three venue services): no 5xx and every answer as documented, authenticated with an ``ops`` key.
(The shared fuzz world has no venue registry, where these routes answer 503 by design.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from sqlalchemy.orm import Session

import keeper.clients as clients
from api.main import create_app
from keeper.keys.secrets import write_secret_file
from keeper.ledger import make_engine
from strongroom_testkit.apiworld import build_world
from strongroom_testkit.fuzzing import CHECKS, asgi_schema
from strongroom_testkit.venues import venue_services  # noqa: F401  (session fixture)


@pytest.fixture(scope="module")
def desk_fuzz(tmp_path_factory, venue_services) -> Iterator[tuple[FastAPI, dict[str, str]]]:  # noqa: F811
    """The app with the venue registry configured, and an ops key's header."""
    d = Path(tmp_path_factory.mktemp("desk-fuzz"))
    world = build_world(d)
    registry = {"venues": []}
    for name, v in venue_services.items():
        write_secret_file(d / f"venue-{name}.key", v.api_key)
        registry["venues"].append({"id": name, "url": v.url, "api_key_file": f"venue-{name}.key"})
    (d / "venues.json").write_text(json.dumps(registry))
    app = create_app(world.settings().model_copy(update={
        "trading_venues_file": d / "venues.json", "secrets_dir": d,
        "rate_limit_per_minute": 10**9}))
    engine = make_engine(world.url)
    with Session(engine) as s:
        key = clients.issue_key(s, world.alice.client.id, [clients.OPS]).api_key
    engine.dispose()
    yield app, {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def desk_schema(desk_fuzz) -> schemathesis.BaseSchema:
    """The app's schema."""
    return asgi_schema(desk_fuzz[0])


# its /v1/trading operations only
schema = schemathesis.pytest.from_fixture("desk_schema").exclude(path_regex=r"^(?!/v1/trading/)")


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_trading_desk_routes_never_fail_and_answer_as_documented(case: schemathesis.Case,
                                                                 desk_fuzz) -> None:
    case.call_and_validate(headers=desk_fuzz[1], checks=CHECKS)
