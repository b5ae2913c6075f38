"""Rate limit of every API route: ``settings.rate_limit_per_minute`` requests per minute per
authenticated client, and per client address for requests without a valid credential (the token
endpoint, health, failed authentications). The counters live in the database
(:class:`keeper.auth.RateLimiter`), so every API process and worker shares them; each process
counts a bucket's hits below half its limit in memory and writes them every 100 ms (see
:mod:`keeper.auth.ratelimit` for the bound that gives across workers).

:func:`enforce` is an app-wide dependency: it runs before the route's own dependencies, so a
client over its limit is answered 429 (with ``Retry-After``) before its scopes or its request are
looked at. Every answer of a rate-limited route carries the IETF draft headers ``RateLimit-Limit``,
``RateLimit-Remaining`` and ``RateLimit-Reset`` (seconds), added by :class:`RateLimitHeaders`.
If the counter cannot be written (database busy or down) the request is let through without
headers and the failure is logged and counted in ``app.state.ratelimit_failed``: the limit is a
fairness control and must not turn a database hiccup into an outage of every read.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException, Request
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from api.deps import AuthenticatedDep
from keeper.auth import RateDecision, RateLimiter

log = logging.getLogger(__name__)
HEADERS_STATE = "ratelimit_headers"  # scope["state"] key the middleware reads
_READS = frozenset({"GET", "HEAD", "OPTIONS"})  # methods whose hits may be counted in memory

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def headers_of(decision: RateDecision) -> dict[str, str]:
    """The ``RateLimit-*`` headers of ``decision``."""
    return {"RateLimit-Limit": str(decision.limit),
            "RateLimit-Remaining": str(decision.remaining),
            "RateLimit-Reset": str(decision.reset_s)}


def bucket_of(request: Request, principal: Any) -> str:
    """``client:<id>`` for an authenticated request, else ``ip:<client address>``."""
    if principal is not None:
        return f"client:{principal.client.id}"
    return f"ip:{request.client.host if request.client else 'unknown'}"


async def enforce(request: Request, principal: AuthenticatedDep) -> None:
    """Count this request against its bucket; 429 beyond the limit (see module docstring).

    Async: a read's hit counted in memory is answered on the event loop; a hit that must be
    written goes to the thread pool (a thread hop per request costs more than the count). A
    request of any other method is always counted with a write before its route runs: such
    requests are rarer and cost far more than the counter, and on SQLite the write also orders
    the route after the audit commit of the client's previous request (routes that read before
    they write in a deferred transaction fail 'database is locked' when a commit lands between
    their read and their write: seen in tests/api/test_webhooks.py)."""
    limiter: RateLimiter = request.app.state.ratelimiter
    bucket = bucket_of(request, principal)
    try:
        if request.method in _READS:
            decision = (limiter.hit_in_memory(bucket)
                        or await run_in_threadpool(limiter.hit, bucket))
        else:
            decision = await run_in_threadpool(limiter.hit, bucket, True)
    except SQLAlchemyError as exc:
        request.app.state.ratelimit_failed += 1
        log.warning("rate limit counter not written (%s): request let through",
                    type(exc).__name__)
        return
    headers = headers_of(decision)
    setattr(request.state, HEADERS_STATE, headers)
    if not decision.allowed:
        raise HTTPException(429, f"rate limit of {decision.limit} requests per minute exceeded; "
                            f"retry in {decision.reset_s} s",
                            headers={**headers, "Retry-After": str(decision.reset_s)})


class RateLimitHeaders:
    """Pure ASGI middleware: adds the headers :func:`enforce` decided to the response."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = (scope.get("state") or {}).get(HEADERS_STATE)
                if extra:
                    present = {k.lower() for k, _ in message.get("headers", [])}
                    message["headers"] = list(message.get("headers", [])) + [
                        (k.lower().encode(), v.encode()) for k, v in extra.items()
                        if k.lower().encode() not in present]
            await send(message)

        await self.app(scope, receive, sending)
