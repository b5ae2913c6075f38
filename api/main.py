"""FastAPI application factory: ``uvicorn api.main:app`` (or ``create_app(settings)`` in tests).

The app owns one engine and one :class:`~keeper.ledger.Ledger` (direct commits, no writer thread),
both closed at shutdown. Routes live in :mod:`api.routes`, one module per resource. Every
request is audited (:mod:`api.audit`).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import Depends, FastAPI

from api import console, ratelimit
from api.audit import AuditMiddleware, RequestAudit
from api.bodyguard import BodyLimits
from api.deps import CredentialCache
from api.errors import install_error_handlers, responses
from api.routes import (
    balances,
    clients,
    corebanking,
    deposit_instructions,
    forensics,
    health,
    issuer_webhooks,
    oauth,
    orders,
    partners,
    safe_delegates,
    safe_transactions,
    statements,
    trading,
    transactions,
    transfers,
    webhooks,
    withdrawals,
)
from keeper.audit import AuditTrail
from keeper.auth import RateLimiter, TokenService
from keeper.config import Settings, load_settings
from keeper.integrations.issuer import webhook_secret
from keeper.ledger import Ledger, make_engine

# Sync routes and dependencies run in anyio's thread pool. At most THREADS at once (anyio's
# default is 40): under the GIL more threads add no throughput but GIL hand-offs (measured at
# 500 req/s on one worker: server CPU per balance read 1.76 ms with 8 threads, 1.88 ms with 16),
# and each one in a database call holds a connection. The engine keeps POOL_SIZE connections
# (threads, the audit writer and spare): with the default pool (5 + 10 overflow) concurrent
# requests kept opening and closing overflow SQLite connections (~3.5 ms of CPU each with the
# PRAGMAs), ~0.3 per request at 1,000 in flight, which is how one worker collapsed under load
# (issue 13).
THREADS = 8
CREDENTIAL_TTL_S = 5.0  # a revoked API key is refused by every worker within this bound
POOL_SIZE = THREADS + 4
POOL_OVERFLOW = 8  # only if a route ever holds two connections at once


# The routers in the order a request's path is tried against them: FastAPI matches routes one by
# one (each included router is a level of nesting), so the customer reads that carry most of the
# traffic come first and each request skips the rest (measured: 52 us of matching per balance
# read and 73 us per transactions page with these last; no two routers serve one path, which
# tests/api/test_routing.py checks for every documented operation).
ROUTERS = (health, balances, transactions, clients, statements, deposit_instructions,
           orders, transfers, withdrawals, webhooks, safe_transactions, safe_delegates, oauth,
           corebanking, issuer_webhooks, partners, trading, forensics, console)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API with ``settings`` (:func:`~keeper.config.load_settings` otherwise).

    ``settings.chain_id`` selects the deployment record the deposit instructions read. Every
    domain's schema must already be migrated (:func:`keeper.schema.upgrade_all`).
    """
    settings = settings or load_settings()
    engine = make_engine(settings.database_url, cache_kib=settings.ledger_sqlite_cache_kib,
                         pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
    ledger = Ledger(engine, group_commit=False, busy_timeout=settings.ledger_writer_busy_s)
    trail = AuditTrail(engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = THREADS
        # Everything built so far (modules, routes, models, settings: ~300k objects) lives as
        # long as the process: moved out of the collector's sight, a full collection no longer
        # walks it. Measured: a full collection of the app took ~95 ms, a pause every request
        # in flight waited out (it set the p99 of a page read at 500/s); after freeze, ~0 ms.
        # Once per process (collected first, so no garbage is frozen with it): an app started
        # again in the same process (tests) adds nothing frozen.
        if gc.get_freeze_count() == 0:
            gc.collect()
            gc.freeze()
        yield
        app.state.audit.close()  # hands the buffered read records to the trail's writer
        trail.close()  # commits the queued audit records
        app.state.ratelimiter.close()
        if (desk := getattr(app.state, "trading", None)) is not None:
            desk.close()  # the venue clients' connection pools (built on first use)
        ledger.close()  # also disposes the engine's pool

    app = FastAPI(
        title="Strongroom",
        version="0.1.0",
        summary="Institutional custody: customer read API.",
        description="Amounts are integers in the asset's base units, rendered as decimal strings. "
        "Every error has the body `{\"error\": {\"code\", \"message\", \"details\"?}}`.",
        lifespan=lifespan,
        dependencies=[Depends(ratelimit.enforce)],
        responses=responses(429),
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.ledger = ledger
    app.state.inline_reads = engine.dialect.name == "sqlite"  # see api.deps.read_ledger
    app.state.audit = RequestAudit(trail, app.state)
    app.state.orders = orders.order_service_from_settings(settings, engine, ledger)
    app.state.issuer_webhook_secret = webhook_secret(settings)
    app.state.tokens = TokenService(settings.secrets_dir, settings.auth_token_ttl_s)
    app.state.credentials = CredentialCache(CREDENTIAL_TTL_S)
    app.state.ratelimiter = RateLimiter(engine, settings.rate_limit_per_minute,
                                        flush_s=settings.rate_limit_flush_s)
    app.state.ratelimit_failed = 0
    app.add_middleware(BodyLimits)  # innermost: refusals are still audited
    app.add_middleware(ratelimit.RateLimitHeaders)
    app.add_middleware(AuditMiddleware, audit=lambda: app.state.audit)
    install_error_handlers(app)
    orders.install_flow_errors(app)
    for module in ROUTERS:
        app.include_router(module.router)
    app.mount(console.STATIC_PATH, console.static_files(), name="console-static")
    return app


app = create_app()
