"""Typed dependencies shared by the routes (``SessionDep``, ``LedgerDep``, ``CurrentClient``...).

Long-lived resources (engine, ledger) are created once per app by :func:`api.main.create_app` and
kept on ``app.state``; a database session is opened per request and closed afterwards.

Authentication: ``Authorization: Bearer <credential>`` where the credential is an API key
(``sr_...``) or an OAuth2 access token (a JWT from ``POST /oauth/token``). Every failure (no
header, another scheme, malformed, unknown, wrong or revoked key; expired, tampered, foreign,
wrong-algorithm or unknown-``kid`` token; revoked OAuth client) is the same 401; a valid credential
lacking the route's scope is 403. The authenticated client comes only from the credential, never
from the request. The credential is checked once per request (:func:`get_authenticated`, cached):
the rate limit (:mod:`api.ratelimit`) and the route's scope check share the result.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Concatenate, ParamSpec, TypeVar

from fastapi import Depends, HTTPException, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2, SecurityScopes
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.audit import ACTOR_STATE
from api.errors import unauthorized
from keeper.auth import TokenService
from keeper.clients import CLIENT_READ, SCOPES, Client, Principal, authenticate
from keeper.config import Settings
from keeper.deployments import Deployment, read_deployment
from keeper.ledger import Ledger


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


async def get_engine(request: Request) -> Engine:
    """The app's engine (one per app, disposed at shutdown)."""
    return request.app.state.engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """A session per request, closed afterwards."""
    with Session(engine) as session:
        yield session


async def get_ledger(request: Request) -> Ledger:
    """The app's ledger facade (direct commits; the API only reads)."""
    return request.app.state.ledger


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_chain_id(settings: SettingsDep) -> int:
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
    bearerFormat="sr_<key_id>_<secret> or JWT",
    description="Either an API key issued with `python -m keeper.clients issue-key` or an "
    "OAuth2 access token (a JWT) from `POST /oauth/token` (client credentials grant; OAuth "
    "clients are created with `python -m keeper.auth create-client`), sent as "
    "`Authorization: Bearer <credential>`. The scopes are the same for both.",
)
# The same bearer header, documented as what OAuth2 tooling understands: the client-credentials
# flow, its token endpoint and every scope. Each protected operation then lists its scopes under
# both schemes (either credential is accepted).
oauth2 = OAuth2(
    flows=OAuthFlows(clientCredentials=OAuthFlowClientCredentials(
        tokenUrl="/oauth/token", scopes=SCOPES)),
    scheme_name="OAuth2",
    description="OAuth2 client credentials: `POST /oauth/token` with the OAuth client's id and "
    "secret (HTTP Basic or form fields) and optionally `scope` (a subset of its grant); send the "
    "access token as `Authorization: Bearer <token>`. An API key with the same scopes is "
    "accepted wherever a token is.",
    auto_error=False,
)
API_KEY_PREFIX = "sr_"
P = ParamSpec("P")
T = TypeVar("T")


async def get_token_service(request: Request) -> TokenService:
    """The app's access-token service (signing keys cached per process)."""
    return request.app.state.tokens


TokenServiceDep = Annotated[TokenService, Depends(get_token_service)]


class CredentialCache:
    """Principals of recently verified API keys, for ``ttl_s`` seconds (one per API process).

    Keyed by the SHA-256 of the key (never the key); successes only, so a wrong key is checked
    every time; at most ``max_entries``. A revoked key or a changed scope applies within
    ``ttl_s`` (5 s by default: the bound the bank accepts for revocation to reach every worker,
    against a database read per request). Access tokens are not cached: they are verified each
    time (their signature, expiry and the OAuth client's revocation)."""

    def __init__(self, ttl_s: float = 5.0, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s, self.max_entries, self.clock = ttl_s, max_entries, clock
        self._entries: dict[bytes, tuple[float, Principal]] = {}

    def get(self, credential: str) -> Principal | None:
        """The cached principal of ``credential`` while fresh, else ``None``."""
        hit = self._entries.get(hashlib.sha256(credential.encode()).digest())
        return hit[1] if hit is not None and hit[0] > self.clock() else None

    def put(self, credential: str, principal: Principal) -> None:
        """Remember ``credential``'s verified principal for ``ttl_s`` seconds."""
        if len(self._entries) >= self.max_entries:
            now = self.clock()
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        key = hashlib.sha256(credential.encode()).digest()
        self._entries[key] = (self.clock() + self.ttl_s, principal)


def _verify(engine: Engine, tokens: TokenService, credential: str) -> Principal | None:
    with Session(engine) as session:
        if credential.startswith(API_KEY_PREFIX):
            return authenticate(session, credential)
        return tokens.verify(session, credential)


async def get_authenticated(request: Request) -> Principal | None:
    """The principal of the request's bearer credential (API key or access token), or ``None``.

    FastAPI caches it per request: the rate limit and the scope check authenticate only once.
    API keys verified in the last few seconds come from the app's :class:`CredentialCache`.
    The engine and token service are read from the app's state, not declared as dependencies:
    this runs on every request, and each dependency FastAPI resolves costs more than the read.
    """
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential:
        return None
    credential = credential.strip()
    cache: CredentialCache = request.app.state.credentials
    is_key = credential.startswith(API_KEY_PREFIX)
    principal = cache.get(credential) if is_key else None
    if principal is None:
        state = request.app.state
        if state.inline_reads:  # short reads: inline on SQLite, as read_ledger
            principal = _verify(state.engine, state.tokens, credential)
        else:
            principal = await run_in_threadpool(_verify, state.engine, state.tokens, credential)
        if principal is not None and is_key:
            cache.put(credential, principal)
    if principal is not None:
        setattr(request.state, ACTOR_STATE, str(principal.client.id))  # the audit record's actor
    return principal


AuthenticatedDep = Annotated[Principal | None, Depends(get_authenticated)]


# the bearer header as the two alternative schemes of OpenAPI (see :func:`get_principal`)
_BearerDoc = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
_OAuth2Doc = Annotated[str | None, Depends(oauth2)]


def _authorized(security_scopes: SecurityScopes, principal: Principal | None) -> Principal:
    """``principal`` when it holds the route's scopes: 401 without one, else 403."""
    if principal is None:
        raise unauthorized()
    missing = sorted(set(security_scopes.scopes) - principal.scopes)
    if missing:
        raise HTTPException(
            403, f"this credential lacks the scope(s): {' '.join(missing)}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{" ".join(missing)}"'},
        )
    return principal


async def get_principal(security_scopes: SecurityScopes, principal: AuthenticatedDep,
                        _bearer: _BearerDoc, _oauth2: _OAuth2Doc) -> Principal:
    """The authenticated principal, which must hold the route's scopes (401, else 403).

    ``_bearer`` and ``_oauth2`` only document the credential in OpenAPI, as two alternative
    schemes carrying the route's scopes (:func:`get_authenticated` reads the header).
    """
    return _authorized(security_scopes, principal)


CurrentPrincipal = Annotated[Principal, Security(get_principal, scopes=[CLIENT_READ])]


async def get_current_client(security_scopes: SecurityScopes, principal: AuthenticatedDep,
                             _bearer: _BearerDoc, _oauth2: _OAuth2Doc) -> Client:
    """The client the credential belongs to (the only client a request can see), checked as
    :func:`get_principal` checks it. Its own security dependency rather than one on top of
    :func:`get_principal`: every customer read resolves it, and each dependency level FastAPI
    resolves costs about 15 us."""
    return _authorized(security_scopes, principal).client


CurrentClient = Annotated[Client, Security(get_current_client, scopes=[CLIENT_READ])]


async def read_ledger(request: Request, read: Callable[Concatenate[Ledger, P], T],
                      *args: P.args, **kwargs: P.kwargs) -> T:
    """``read(ledger, *args, **kwargs)`` with the app's ledger, a short database read of a
    customer route, run where it costs least: on SQLite (a local file read in WAL mode, where
    readers never wait for the writer) inline on the event loop; on a database server in the
    thread pool, so that one round trip does not stall every request in flight. The ledger
    comes from the app's state here rather than as a route dependency: each dependency FastAPI
    resolves costs about 15 us, and these are the API's most frequent requests.

    A thread hop costs more than such a read on SQLite: measured at 500 requests/s on one worker,
    a balance read took 0.84 ms of server CPU through the pool and 0.54 ms inline (p99 2.94 ->
    2.35 ms), a transactions page 1.26 -> 1.00 ms (p99 4.42 -> 3.36 ms)."""
    state = request.app.state
    if state.inline_reads:
        return read(state.ledger, *args, **kwargs)
    return await run_in_threadpool(read, state.ledger, *args, **kwargs)
