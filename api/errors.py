"""One JSON error shape for every failure: ``{"error": {"code", "message", "details"?}}``.

* 401 ``unauthorized``: no key, malformed, unknown, wrong or revoked key: one message for all.
* 403 ``forbidden``: a valid key without the scope the route needs.
* 404 ``not_found``: unknown route, or a resource that is not the caller's (ids cannot be probed).
* 422 ``validation_error``: ``details`` lists each problem (``loc``, ``msg``, ``type``).
* 429 ``rate_limited``: over the rate limit; ``Retry-After`` says when to come back.
* 503 ``unavailable``: the system cannot serve this yet (e.g. contracts not deployed), or the
  ledger could not take a write: ``LedgerUnavailable`` (nothing written; ``Retry-After``) or
  ``LedgerTimeout`` (not confirmed in time; retrying with the same ids never applies it twice).
* 500 ``internal_error``: nothing about the cause leaks; it is logged server-side.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from keeper.ledger import LedgerTimeout, LedgerUnavailable

log = logging.getLogger("api")

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 413: "payload_too_large", 422: "validation_error",
    429: "rate_limited", 503: "unavailable",
}
UNAUTHORIZED = "missing or invalid credentials"  # one message for keys and tokens alike
RETRY_AFTER_S = 5  # a locked ledger database usually frees within a writer's busy wait


class ErrorDetail(BaseModel):
    """One validation problem: where (``loc``) and what (``msg``)."""

    loc: list[str | int]
    msg: str
    type: str


class Error(BaseModel):
    """A machine-readable ``code`` and a human-readable ``message``."""

    code: str
    message: str
    details: list[ErrorDetail] | None = None


class ErrorBody(BaseModel):
    """Body of every error response."""

    error: Error


def error_response(status: int, message: str) -> JSONResponse:
    """The one error body for ``status`` (for middleware that answers before any route)."""
    return _error(status, message)


def _error(status: int, message: str, details: list[dict[str, Any]] | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    code = CODES.get(status, "internal_error" if status >= 500 else "http_error")
    body = ErrorBody(error=Error(code=code, message=message, details=details))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def not_found(what: str) -> HTTPException:
    """A 404 that reads the same whether the resource is missing or someone else's."""
    return HTTPException(404, f"{what} not found")


def unauthorized() -> HTTPException:
    """The one 401 for every authentication failure."""
    return HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})


# FastAPI's answer to a body it cannot even decode (not UTF-8 JSON): made the same clear 422 as
# any other invalid body instead of an undocumented 400.
_UNPARSEABLE_BODY = "There was an error parsing the body"


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNPARSEABLE_BODY:
        return _error(422, "invalid request: body: not valid JSON text (UTF-8)",
                      [{"loc": ["body"], "msg": "not valid JSON text (UTF-8)",
                        "type": "json_invalid"}])
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return _error(exc.status_code, message, headers=getattr(exc, "headers", None))


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"loc": [p for p in e.get("loc", ()) if isinstance(p, str | int)],
         "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]
    summary = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in details)
    return _error(422, f"invalid request: {summary}" if summary else "invalid request", details)


async def _ledger_unavailable(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LedgerUnavailable)
    log.warning("ledger unavailable on %s %s: %s", request.method, request.url.path, exc)
    return _error(503, "the ledger cannot take writes right now; nothing was written: retry "
                  "later with the same request", headers={"Retry-After": str(RETRY_AFTER_S)})


async def _ledger_timeout(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LedgerTimeout)
    log.warning("ledger timeout on %s %s (in flight: %s)", request.method, request.url.path,
                exc.in_flight)
    state = "it may still be applied" if exc.in_flight else "it was not applied"
    return _error(503, f"the ledger write was not confirmed in time ({state}); retry with the "
                  "same request and ids: it is never applied twice")


def internal_error() -> JSONResponse:
    """The one 500 answer: nothing about the cause (it is logged server-side by the caller)."""
    return _error(500, "internal server error")


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return internal_error()


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the one JSON shape."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(LedgerUnavailable, _ledger_unavailable)
    app.add_exception_handler(LedgerTimeout, _ledger_timeout)
    app.add_exception_handler(Exception, _unhandled)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting the error body for ``statuses``."""
    return {
        s: {"model": ErrorBody, "description": HTTPStatus(s).phrase} for s in statuses
    }
