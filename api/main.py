"""FastAPI application factory: ``uvicorn api.main:app`` (or ``create_app(settings)`` in tests).

The app owns one engine and one :class:`~keeper.ledger.Ledger` (direct commits, no writer thread),
both closed at shutdown. Routes live in :mod:`api.routes`, one module per resource.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.routes import balances, clients, deposit_instructions, health, statements
from keeper.config import Settings, load_settings
from keeper.ledger import Ledger, make_engine

DEFAULT_CHAIN_ID = 1  # the local mainnet and its fork run with chain id 1, like Ethereum mainnet


def create_app(settings: Settings | None = None, *, chain_id: int | None = None) -> FastAPI:
    """Build the API with ``settings`` (environment defaults otherwise).

    ``chain_id`` selects ``<deployments_dir>/<chain_id>.json``; default ``STRONGROOM_CHAIN_ID``
    or 1. Both schemas (ledger, clients) must already be migrated.
    """
    settings = settings or load_settings()
    engine = make_engine(settings.database_url)
    ledger = Ledger(engine, group_commit=False)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        ledger.close()  # also disposes the engine's pool

    app = FastAPI(
        title="Strongroom",
        version="0.1.0",
        summary="Institutional custody: customer read API.",
        description="Amounts are integers in the asset's base units, rendered as decimal strings. "
        "Every error has the body `{\"error\": {\"code\", \"message\", \"details\"?}}`.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.ledger = ledger
    app.state.chain_id = chain_id or int(os.environ.get("STRONGROOM_CHAIN_ID", DEFAULT_CHAIN_ID))
    install_error_handlers(app)
    app.include_router(health.router)
    for module in (clients, balances, statements, deposit_instructions):
        app.include_router(module.router)
    return app


app = create_app()
