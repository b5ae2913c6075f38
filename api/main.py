"""FastAPI application factory: ``uvicorn api.main:app``."""

from __future__ import annotations

from fastapi import FastAPI

from api.routes import health
from keeper.config import Settings, load_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API with the given settings (environment defaults otherwise)."""
    app = FastAPI(title="Strongroom", version="0.1.0")
    app.state.settings = settings or load_settings()
    app.include_router(health.router)
    return app


app = create_app()
