"""Property-based fuzzing of the OpenAPI schema, in process (schemathesis over ASGI).

Every operation is called with generated path parameters, authenticated as Alice (and, for
``negative`` generation, with schema-violating inputs). No response may be a 5xx, and every
response must match its documented status code, content type and schema. The system is deployed
(a deployments file exists), so deposit instructions have no legitimate reason to answer 503.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app
from strongroom_testkit.apiworld import World, build_world


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
    """The app under fuzzing."""
    return create_app(fuzz_world.settings())


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> schemathesis.BaseSchema:
    """The app's own OpenAPI schema, loaded in process."""
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_documented_responses(case: schemathesis.Case, fuzz_world: World) -> None:
    case.call_and_validate(
        headers=fuzz_world.alice.headers,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                response_schema_conformance],
    )
