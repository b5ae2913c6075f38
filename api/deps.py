"""Typed dependencies shared by the routes (``SessionDep``, ``LedgerDep``, ``CurrentClient``...).

Long-lived resources (engine, ledger) are created once per app by :func:`api.main.create_app` and
kept on ``app.state``; a database session is opened per request and closed afterwards.

Authentication: ``Authorization: Bearer <api key>``. Every failure (no header, another scheme,
malformed, unknown, wrong or revoked key) is the same 401; a valid key lacking the route's scope
is 403. The authenticated client comes only from the key, never from the request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.audit import ACTOR_STATE
from api.errors import unauthorized
from keeper.clients import CLIENT_READ, Client, Principal, authenticate
from keeper.config import Settings
from keeper.deployments import Deployment, read_deployment
from keeper.ledger import Ledger


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    """The app's engine (one per app, disposed at shutdown)."""
    return request.app.state.engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """A session per request, closed afterwards."""
    with Session(engine) as session:
        yield session


def get_ledger(request: Request) -> Ledger:
    """The app's ledger facade (direct commits; the API only reads)."""
    return request.app.state.ledger


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_chain_id(settings: SettingsDep) -> int:
    """Chain id of the Ethereum network the system is deployed on."""
    return settings.chain_id


EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
LedgerDep = Annotated[Ledger, Depends(get_ledger)]
ChainIdDep = Annotated[int, Depends(get_chain_id)]


def get_deployment(settings: SettingsDep, chain_id: ChainIdDep) -> Deployment | None:
    """The deployment record of ``chain_id`` (re-read per request), or ``None`` when there is
    no usable one (the reason is logged)."""
    return read_deployment(settings.deployments_dir, chain_id)


DeploymentDep = Annotated[Deployment | None, Depends(get_deployment)]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    bearerFormat="sr_<key_id>_<secret>",
    description="API key issued with `python -m keeper.clients issue-key`, sent as "
    "`Authorization: Bearer <key>`.",
)


def get_principal(
    request: Request,
    security_scopes: SecurityScopes,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """Authenticate the request's API key and check it holds the route's scopes."""
    principal = authenticate(session, credentials.credentials if credentials else None)
    if principal is None:
        raise unauthorized()
    setattr(request.state, ACTOR_STATE, str(principal.client.id))  # the audit record's actor
    missing = sorted(set(security_scopes.scopes) - principal.scopes)
    if missing:
        raise HTTPException(
            403, f"this API key lacks the scope(s): {' '.join(missing)}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{" ".join(missing)}"'},
        )
    return principal


CurrentPrincipal = Annotated[Principal, Security(get_principal, scopes=[CLIENT_READ])]


def get_current_client(principal: CurrentPrincipal) -> Client:
    """The client the API key belongs to (the only client a request can see)."""
    return principal.client


CurrentClient = Annotated[Client, Depends(get_current_client)]
