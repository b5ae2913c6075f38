"""Schemathesis fuzzing of the API in process: the checks every fuzz test applies and the schema
loader, shared by the pure tier (``tests/api/test_fuzz.py``) and the fork tier
(``tests/api/test_fuzz_trading.py``)."""

from __future__ import annotations

import schemathesis
from fastapi import FastAPI
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

# The trading routes: they need core banking (ATLAS) and the issuer running
TRADING = r"^/(v1/(orders|transfers|withdrawals|hooks/issuer)|stablecoin/)"
# The trading desk's routes: they need the venues (503 without a registry, by design); fuzzed with
# venues running in tests/api/test_trading_desk_api.py
DESK = r"^/v1/trading/"

# no 5xx; every answer's status code, content type and body as the OpenAPI document says
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def asgi_schema(app: FastAPI) -> schemathesis.BaseSchema:
    """The app's own OpenAPI schema, loaded in process (calls go through ASGI)."""
    return schemathesis.openapi.from_asgi("/openapi.json", app)
