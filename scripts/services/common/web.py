"""HTTP pieces the services share: the API-key and admin-token guards, and running a
background worker for the app's lifetime."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Protocol

from fastapi import FastAPI, Header, HTTPException


class _Startable(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


def guards(api_key: str, admin_token: str) -> tuple[Callable[..., None], Callable[..., None]]:
    """FastAPI dependencies ``(bearer, admin)``: ``Authorization: Bearer <api_key>`` and
    ``X-Admin-Token: <admin_token>``, each compared in constant time (401 otherwise)."""

    def bearer(authorization: Annotated[str, Header()] = "") -> None:
        if not hmac.compare_digest(authorization.encode(), f"Bearer {api_key}".encode()):
            raise HTTPException(401, "invalid API key")

    def admin(x_admin_token: Annotated[str, Header()] = "") -> None:
        if not hmac.compare_digest(x_admin_token.encode(), admin_token.encode()):
            raise HTTPException(401, "invalid admin token")

    return bearer, admin


def run_with(app: FastAPI, worker: _Startable) -> FastAPI:
    """Start ``worker`` when ``app`` starts and stop it when the app stops; returns ``app``."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        worker.start()
        try:
            yield
        finally:
            worker.stop()

    app.router.lifespan_context = lifespan
    return app
