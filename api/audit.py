"""Every API request is audited: one ASGI middleware appends an :class:`AuditRecord` per request.

The record: ``actor`` the authenticated client's id (set by :func:`api.deps.get_principal`) or
``anonymous``; ``operation`` ``api.<METHOD> <route path template>`` (``<unmatched>`` for a path
no route serves: an outsider's path is never echoed into the trail); ``params`` the route's path
parameters and the query parameters, each value cut to :data:`MAX_VALUE` characters, at most
:data:`MAX_QUERY` of them, credential-like names (key, token, secret, password, auth) redacted;
never headers or bodies; ``params["request_id"]`` the request's id; ``result``
``{"status": <code>}`` (500 when the app raised).

Request id: every response carries ``X-Request-ID``. A sane incoming one (1 to 64 characters of
``A-Z a-z 0-9 . _ : -``) is kept so a caller can correlate; anything else is replaced by a fresh
random id (never echoed). The id is in ``request.state.request_id`` and in the audit record.

Throughput and failure policy (decided): records go to the group-committing
:class:`~keeper.audit.AuditWriter` and the response does not wait for them; the writer commits
batches in the background and the app flushes it at shutdown. The API never fails a request
because of the audit: a failed batch is logged (its size, never its content) and counted in
``app.state.audit_failed``; beyond :data:`MAX_PENDING` records queued and not yet committed (a
stalled database), further records are dropped, counted in ``app.state.audit_dropped`` and
logged, so a backlog cannot exhaust memory. Both counters are what monitoring alerts on.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import Future
from typing import Any

from api.errors import internal_error
from keeper.audit import AuditRecord, AuditTrail

log = logging.getLogger(__name__)
MAX_VALUE = 128
MAX_QUERY = 16
MAX_PENDING = 100_000
ANONYMOUS = "anonymous"
ACTOR_STATE = "audit_actor"  # request.state attribute the authentication sets
REQUEST_ID_STATE = "request_id"  # request.state attribute holding the request id
REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_SECRETISH = re.compile(r"key|token|secret|passw|auth|signature|credential", re.IGNORECASE)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
                   Awaitable[None]]


def _value(name: str, value: Any) -> str:
    return "[redacted]" if _SECRETISH.search(name) else str(value)[:MAX_VALUE]


def request_record(scope: Scope, status: int) -> AuditRecord:
    """The audit record of the request ``scope`` answered with ``status``."""
    from urllib.parse import parse_qsl

    route = scope.get("route")
    template = getattr(route, "path", None) or "<unmatched>"
    path = {str(k)[:MAX_VALUE]: _value(str(k), v)
            for k, v in (scope.get("path_params") or {}).items()} if route else {}
    query: dict[str, str] = {}
    raw = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(raw, keep_blank_values=True)[:MAX_QUERY]:
        query[name[:MAX_VALUE]] = _value(name, value)
    state = scope.get("state") or {}
    actor = str(state.get(ACTOR_STATE) or ANONYMOUS)
    params: dict[str, Any] = {"path": path, "query": query}
    if state.get(REQUEST_ID_STATE):
        params["request_id"] = str(state[REQUEST_ID_STATE])
    return AuditRecord(actor, f"api.{scope.get('method', '?')} {template}", params,
                       {"status": status})


def request_id_of(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` if sane (see module docstring), else a fresh random id."""
    for name, value in scope.get("headers") or ():
        if name.lower() == b"x-request-id":
            incoming = value.decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(incoming):
                return incoming
            break
    return secrets.token_hex(16)


class RequestAudit:
    """Queues one record per request on ``trail``'s group committer (see module docstring)."""

    def __init__(self, trail: AuditTrail, counters: Any, max_pending: int = MAX_PENDING) -> None:
        self.trail = trail
        self.counters = counters  # app.state: audit_failed, audit_dropped
        self.max_pending = max_pending
        self._pending = 0
        self._lock = threading.Lock()
        counters.audit_failed = 0
        counters.audit_dropped = 0

    def submit(self, record: AuditRecord) -> None:
        """Queue ``record``; never raises (a refusal is counted and logged)."""
        with self._lock:
            if self._pending >= self.max_pending:
                self.counters.audit_dropped += 1
                log.error("audit backlog of %d records: an API audit record was dropped",
                          self._pending)
                return
            self._pending += 1
        try:
            fut = self.trail.submit(record)
        except Exception as exc:  # noqa: BLE001 - the request must still be answered
            self._done_failed(type(exc).__name__)
            return
        fut.add_done_callback(self._done)

    def _done(self, fut: Future[Any]) -> None:
        exc = fut.exception()
        if exc is not None:
            self._done_failed(type(exc).__name__)
            return
        with self._lock:
            self._pending -= 1

    def _done_failed(self, why: str) -> None:
        with self._lock:
            self._pending -= 1
            self.counters.audit_failed += 1
        log.warning("an API audit record was not written (%s)", why)


class AuditMiddleware:
    """Pure ASGI middleware: gives every HTTP request its id (``X-Request-ID`` on the response)
    and records it with its final status."""

    def __init__(self, app: ASGIApp, audit: Callable[[], RequestAudit]) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                      send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status, started = 500, False
        request_id = request_id_of(scope)
        scope.setdefault("state", {})[REQUEST_ID_STATE] = request_id

        async def sending(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = int(message["status"]), True
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"x-request-id"]
                message["headers"] = [*headers, (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            if started:
                raise
            # answered here (not by Starlette's outermost handler) so the 500 carries the id too
            log.exception("unhandled error on %s %s (request %s)", scope.get("method"),
                          scope.get("path", "")[:MAX_VALUE], request_id)
            await internal_error()(scope, receive, sending)
        finally:
            self.audit().submit(request_record(scope, status))
