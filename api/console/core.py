"""The console's core: page routers, templates, sessions, the role guard, CSRF and headers.

Every console page is a route of a router made by :func:`page_router`: its route class
(:class:`ConsoleRoute`) adds the security headers to every answer (CSP without inline scripts or
styles, no framing, no referrer, no caching) and renders refusals as HTML pages; its
router-level dependency :func:`csrf_guard` checks every non-GET request (same origin by
``Origin``/``Referer``, and the session's CSRF token from the form field ``csrf_token`` or the
``X-CSRF-Token`` header) before any handler runs. Pages take the signed-in user from
:func:`require` (a role guard per page) and answer with :func:`render`.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.responses import Response

from api.audit import ACTOR_STATE
from api.console.nav import items_for
from keeper.audit import record_in
from keeper.clients.portfolio import display_amount
from keeper.console import CLIENT, STAFF_ROLES, Active, SessionStore, User

HERE = Path(__file__).resolve().parent
PREFIX = "/console"
COOKIE = "sr_console"
PRE_COOKIE = "sr_console_pre"  # login-form CSRF (double submit) before a session exists
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer makes Chrome send "Origin: null"
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}
templates = Jinja2Templates(directory=HERE / "templates")  # autoescaping on


templates.env.filters["units"] = display_amount  # the one formatting helper (exact)


class ConsoleRoute(APIRoute):
    """Adds :data:`SECURITY_HEADERS` to every answer and renders an ``HTTPException`` as the
    console's error page (a redirect stays a redirect)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler wrapped with the headers and the error page."""
        handler = super().get_route_handler()

        async def wrapped(request: Request) -> Response:
            try:
                response = await handler(request)
            except HTTPException as exc:
                response = _error_page(request, exc)
            except RequestValidationError:  # a malformed path, query or form: never echoed
                response = _error_page(request, HTTPException(400, "this request is not valid"))
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return wrapped


def _error_page(request: Request, exc: HTTPException) -> Response:
    if 300 <= exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    titles = {403: "Not allowed", 404: "Not found", 400: "Refused", 429: "Too many requests"}
    return render(request, "error.html", {"title": titles.get(exc.status_code, "Error"),
                                          "message": str(exc.detail)},
                  status_code=exc.status_code, headers=exc.headers)


def sessions(request: Request) -> SessionStore:
    """The app's console session store (built on first use from the app's settings)."""
    store = getattr(request.app.state, "console_sessions", None)
    if store is None:
        store = SessionStore(request.app.state.engine,
                             request.app.state.settings.console_session_minutes)
        request.app.state.console_sessions = store
    return store


def engine_of(request: Request) -> Engine:
    """The app's engine."""
    return request.app.state.engine


async def current_session(request: Request) -> Active | None:
    """The request's live console session (cached per request), or ``None``."""
    if hasattr(request.state, "console_active"):
        return request.state.console_active
    from starlette.concurrency import run_in_threadpool

    active = await run_in_threadpool(sessions(request).resolve, request.cookies.get(COOKIE))
    request.state.console_active = active
    if active is not None:
        request.state.console_user = active.user
        setattr(request.state, ACTOR_STATE, active.user.actor)
    return active


SessionOpt = Annotated[Active | None, Depends(current_session)]


def same_origin(request: Request) -> bool:
    """The request comes from a page of this site (``Origin``, else ``Referer``)."""
    own = f"{request.url.scheme}://{request.url.netloc}"
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == own
    referer = request.headers.get("referer")
    if referer is None:
        return False
    parts = urlsplit(referer)
    return f"{parts.scheme}://{parts.netloc}" == own


async def submitted_token(request: Request) -> str:
    """The CSRF token the request carries (header first, then the form field)."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def csrf_guard(request: Request, active: SessionOpt) -> None:
    """Refuse (403) a state-changing request that is cross-site, has no live session or lacks
    the session's CSRF token. GET/HEAD/OPTIONS pass (they change nothing)."""
    if request.method in SAFE_METHODS:
        return
    if not same_origin(request):
        raise HTTPException(403, "cross-site request refused")
    if active is None:
        raise HTTPException(403, "your session has ended; sign in again")
    token = await submitted_token(request)
    if not token or not hmac.compare_digest(token.encode(), active.csrf_token.encode()):
        raise HTTPException(403, "missing or wrong form token; reload the page and retry")


def page_router(prefix: str = "", *, csrf: bool = True, **kwargs: Any) -> APIRouter:
    """A router for console pages (under ``/console`` + ``prefix``, security headers, CSRF
    guard, hidden from the OpenAPI document). ``csrf=False`` only for the sign-in form, which
    has no session yet and checks its own pre-session token."""
    guard = [Depends(csrf_guard)] if csrf else []
    return APIRouter(prefix=PREFIX + prefix, route_class=ConsoleRoute, include_in_schema=False,
                     dependencies=guard, **kwargs)


def _login_redirect(request: Request) -> HTTPException:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    from urllib.parse import quote

    return HTTPException(303, "sign in", headers={
        "Location": f"{PREFIX}/login?next={quote(target, safe='')}"})


def require(*roles: str) -> Callable[..., Awaitable[User]]:
    """A dependency giving the signed-in user if they hold one of ``roles`` (staff roles, or
    ``"client"``); not signed in: to the login page (303); another role: 403."""
    allowed = frozenset(roles)
    unknown = allowed - STAFF_ROLES - {CLIENT}
    if not allowed or unknown:
        raise ValueError(f"roles must be staff roles or 'client': {sorted(unknown)}")

    async def guard(request: Request, active: SessionOpt) -> User:
        if active is None:
            raise _login_redirect(request)
        if not active.user.roles & allowed:
            raise HTTPException(403, "your role does not give access to this page")
        return active.user

    return guard


def csrf_of(request: Request) -> str | None:
    """The CSRF token of the request's session (for forms), or ``None``."""
    active = getattr(request.state, "console_active", None)
    return active.csrf_token if active is not None else None


def render(request: Request, template: str, context: dict[str, Any] | None = None,
           status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Render ``template`` with the signed-in ``user``, the session's ``csrf`` token and the
    navigation; ``context`` adds the page's own values."""
    user = getattr(request.state, "console_user", None)
    ctx = {"user": user, "csrf": csrf_of(request), "csrf_field": CSRF_FIELD,
           "nav": items_for(user), "path": request.url.path}
    ctx.update(context or {})
    return templates.TemplateResponse(request, template, ctx, status_code=status_code,
                                      headers=headers)


def audit(request: Request, operation: str, params: Any, result: Any = None) -> None:
    """Write one audit record now (its own transaction), the actor the signed-in user
    (``console:<login>``): for console actions that a domain service does not audit itself
    (downloads, failed logins). Operations are ``console.<what>``."""
    user = getattr(request.state, "console_user", None)
    actor = user.actor if user is not None else "anonymous"
    with engine_of(request).connect().execution_options(ledger_write=True) as conn, \
            conn.begin():
        record_in(conn, actor, operation, params, result)


def client_ip(request: Request) -> str:
    """The peer address of the request (what the login throttle counts per address)."""
    return request.client.host if request.client else "unknown"
