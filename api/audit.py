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
:class:`~keeper.audit.AuditWriter` and the response does not wait for them. A read's record
(``GET``, ``HEAD``, ``OPTIONS``) is first buffered here and handed over with every other read of
the last :data:`FLUSH_S` in one batch (one commit, one fsync, one write lock, instead of one per
request when the load is light); any other method's record goes to the writer at once. The app
hands over the buffer and flushes the writer at shutdown, so a clean stop loses nothing. A crash
loses what was not committed yet: at most the last ~100 ms of read records plus the writer's
batch in flight (as before). Accepted: a read changes nothing, and every state change writes
its own audit record in the transaction that makes it (:func:`keeper.audit.append`), so a crash
can lose a record of who *looked*, never of what changed. The API never fails a request
because of the audit: a failed batch is logged (its size, never its content) and counted in
``app.state.audit_failed``; beyond :data:`MAX_PENDING` records buffered or queued and not yet
committed (a stalled database), further records are dropped, counted in
``app.state.audit_dropped`` and logged, so a backlog cannot exhaust memory. Both counters are
what monitoring alerts on.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import Future
from typing import Any

from api.errors import internal_error
from keeper.audit import AuditRecord, AuditRecordError, AuditTrail

log = logging.getLogger(__name__)
MAX_VALUE = 128
MAX_QUERY = 16
MAX_PENDING = 100_000
FLUSH_S = 0.1  # how often buffered read records go to the group committer
_BATCHED = ("api.GET ", "api.HEAD ", "api.OPTIONS ")  # operations buffered until the flush
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
    return _fresh_id()


class _RandomIds:
    """Fresh 128-bit random ids (hex) from the OS's CSPRNG, read 4 KiB at a time: one
    ``os.urandom`` call cost ~0.19 ms on the dev machine, a quarter of a cached read's time."""

    def __init__(self, chunk: int = 4096) -> None:
        self.chunk = chunk
        self._buf = b""
        self._at = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._at + 16 > len(self._buf):
                self._buf, self._at = os.urandom(self.chunk), 0
            self._at += 16
            return self._buf[self._at - 16:self._at].hex()


_fresh_id = _RandomIds()


class RequestAudit:
    """Hands one record per request to ``trail``'s group committer (see module docstring):
    reads (``GET``, ``HEAD``, ``OPTIONS``) in one batch every ``flush_s`` seconds from a
    background thread (``None``: only :meth:`flush` and :meth:`close` send them), any other
    method at once. :meth:`close` sends what is buffered; the app then closes the trail."""

    def __init__(self, trail: AuditTrail, counters: Any, max_pending: int = MAX_PENDING,
                 flush_s: float | None = FLUSH_S) -> None:
        self.trail = trail
        self.counters = counters  # app.state: audit_failed, audit_dropped
        self.max_pending = max_pending
        self._pending = 0  # buffered here or queued in the group committer, not yet committed
        self._buffer: list[AuditRecord] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        counters.audit_failed = 0
        counters.audit_dropped = 0
        self._flusher: threading.Thread | None = None
        if flush_s is not None:
            self._flusher = threading.Thread(target=self._flush_every, args=(flush_s,),
                                             name="api-audit-flush", daemon=True)
            self._flusher.start()

    def submit(self, record: AuditRecord) -> None:
        """Buffer a read's ``record`` or queue another's; never raises (a refusal is counted
        and logged)."""
        with self._lock:
            if self._pending >= self.max_pending:
                self.counters.audit_dropped += 1
                log.error("audit backlog of %d records: an API audit record was dropped",
                          self._pending)
                return
            self._pending += 1
            if record.operation.startswith(_BATCHED):
                self._buffer.append(record)
                return
        self._send([record])

    def flush(self) -> None:
        """Hand the buffered records to the group committer in one batch."""
        with self._lock:
            batch, self._buffer = self._buffer, []
        if batch:
            self._send(batch)

    def close(self) -> None:
        """Stop the flusher and hand over what is buffered (idempotent)."""
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join()
            self._flusher = None
        self.flush()

    def _flush_every(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            self.flush()

    def _send(self, batch: list[AuditRecord]) -> None:
        try:
            fut = self.trail.submit(batch)
        except AuditRecordError:
            if len(batch) > 1:  # one bad record must not sink the others
                for record in batch:
                    self._send([record])
                return
            self._done_failed(1, "AuditRecordError")
            return
        except Exception as exc:  # noqa: BLE001 - the request must still be answered
            self._done_failed(len(batch), type(exc).__name__)
            return
        fut.add_done_callback(lambda f: self._done(f, len(batch)))

    def _done(self, fut: Future[Any], n: int) -> None:
        exc = fut.exception()
        if exc is not None:
            self._done_failed(n, type(exc).__name__)
            return
        with self._lock:
            self._pending -= n

    def _done_failed(self, n: int, why: str) -> None:
        with self._lock:
            self._pending -= n
            self.counters.audit_failed += n
        log.warning("%d API audit record(s) not written (%s)", n, why)


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
