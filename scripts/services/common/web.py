"""HTTP pieces the services share: the API-key and admin-token guards, and running a
background worker for the app's lifetime."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel


class _Faults(Protocol):
    config: Any

    def set(self, config: Any) -> None: ...


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


def add_fault_routes(app: FastAPI, faults: _Faults, config_type: type[BaseModel],
                     admin: Callable[..., None]) -> None:
    """``GET /admin/faults`` (the live fault configuration) and ``PUT /admin/faults`` (replace
    it with a ``config_type`` body: the decision streams restart from its seed), both behind
    the ``admin`` guard."""

    def get_faults() -> dict[str, Any]:
        """The live fault configuration."""
        return dict(faults.config.model_dump())

    def put_faults(config: Any) -> dict[str, Any]:
        """Replace the fault configuration (decision streams restart from the seed)."""
        faults.set(config)
        return dict(faults.config.model_dump())

    put_faults.__annotations__ = {"config": config_type, "return": dict[str, Any]}
    app.get("/admin/faults", dependencies=[Depends(admin)])(get_faults)
    app.put("/admin/faults", dependencies=[Depends(admin)])(put_faults)
