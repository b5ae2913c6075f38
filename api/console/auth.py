"""Sign in, sign out and the console's home page.

Login: the form carries a pre-session token (double submit: a ``SameSite=Strict`` cookie and a
hidden field) and must come from this site; attempts are throttled per login name and per
address (:class:`keeper.auth.RateLimiter`, shared by every API process); every failure has the
same message; success makes a new session id (an old cookie's session ends: no fixation).
Logout revokes the session. Login, failure and logout are audited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.console.core import (
    COOKIE,
    CSRF_FIELD,
    PRE_COOKIE,
    PREFIX,
    SessionOpt,
    audit,
    client_ip,
    engine_of,
    page_router,
    render,
    same_origin,
    sessions,
)
from api.console.nav import home_of
from keeper.auth import RateLimiter
from keeper.console import get_user, verify_password

pages = page_router()
signin = page_router(csrf=False)  # the sign-in form only: no session yet (own token)
LOGIN_PER_MINUTE = 5  # attempts per login name per minute
ADDRESS_PER_MINUTE = 30  # attempts per client address per minute
FAILED = "Sign-in failed: check your login and password."
THROTTLED = "Too many sign-in attempts: wait a minute and retry."


def _limiters(request: Request) -> tuple[RateLimiter, RateLimiter]:
    state = request.app.state
    if getattr(state, "console_login_limiters", None) is None:
        engine = engine_of(request)
        state.console_login_limiters = (RateLimiter(engine, LOGIN_PER_MINUTE, flush_s=None),
                                        RateLimiter(engine, ADDRESS_PER_MINUTE, flush_s=None))
    return state.console_login_limiters


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _safe_next(target: str | None) -> str | None:
    """``target`` if it is a console path of this site (never another host)."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//") \
            and "\\" not in target and "\n" not in target and "\r" not in target:
        return target
    return None


def _login_page(request: Request, message: str | None, status: int, nxt: str | None) -> Response:
    token = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(32)
    response = render(request, "login.html", {"message": message, "pre_token": token,
                                              "next": _safe_next(nxt) or "", "user": None},
                      status)
    response.set_cookie(PRE_COOKIE, token, httponly=True, samesite="strict",
                        secure=_secure(request), path=PREFIX)
    return response


def _audit_attempt(request: Request, operation: str, name: str, address: str) -> None:
    """Audit a refused sign-in: the login name only when it is a real login (a password typed
    into the login field must not land in the trail), else a digest to correlate attempts."""
    known = get_user(engine_of(request), name) is not None
    shown = name if known else "sha256:" + hashlib.sha256(name.encode()).hexdigest()[:16]
    audit(request, operation, {"login": shown, "address": address[:64]})


@pages.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:  # noqa: A002
    """The sign-in form (signing in again ends the current session: a new id)."""
    return _login_page(request, None, 200, next)


@signin.post("/login")
async def login(
    request: Request,
    login: Annotated[str, Form(max_length=128)],
    password: Annotated[str, Form(max_length=1024)],
    pre_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=128)] = "",
    next: Annotated[str, Form(max_length=512)] = "",  # noqa: A002
) -> Response:
    """Check the credentials and start a session (see the module docstring)."""
    cookie = request.cookies.get(PRE_COOKIE, "")
    if not same_origin(request) or not cookie or not pre_token or \
            not hmac.compare_digest(cookie.encode(), pre_token.encode()):
        raise HTTPException(403, "the sign-in form expired or came from elsewhere; reload it")
    address = client_ip(request)
    name = login.strip().lower()[:64]
    per_login, per_address = _limiters(request)
    allowed = await run_in_threadpool(
        lambda: per_address.hit(f"console-ip:{address}", True).allowed
        & per_login.hit(f"console-login:{name}", True).allowed)
    if not allowed:
        await run_in_threadpool(_audit_attempt, request, "console.login_throttled", name, address)
        return _login_page(request, THROTTLED, 429, next)
    user = await run_in_threadpool(verify_password, engine_of(request), login, password)
    if user is None:
        await run_in_threadpool(_audit_attempt, request, "console.login_failed", name, address)
        return _login_page(request, FAILED, 401, next)
    sid, _ = await run_in_threadpool(sessions(request).create, user, address,
                                     request.cookies.get(COOKIE))
    response = RedirectResponse(_safe_next(next) or home_of(user), status_code=303)
    response.set_cookie(COOKIE, sid, httponly=True, samesite="strict", secure=_secure(request),
                        path=PREFIX)
    response.delete_cookie(PRE_COOKIE, path=PREFIX)
    return response


@pages.post("/logout")
async def logout(request: Request, active: SessionOpt) -> Response:
    """End the session (the CSRF guard already checked the form token)."""
    if active is not None:
        await run_in_threadpool(sessions(request).revoke, active)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


@pages.get("/me")
async def me(request: Request, active: SessionOpt) -> Response:
    """The signed-in user's account page (login, roles, idle timeout, sign out)."""
    if active is None:
        return RedirectResponse(f"{PREFIX}/login", status_code=303)
    return render(request, "me.html", {"idle": sessions(request).idle})


@pages.get("/")
async def home(request: Request, active: SessionOpt) -> Response:
    """The signed-in user's home page, or the sign-in form."""
    if active is None:
        return RedirectResponse(f"{PREFIX}/login", status_code=303)
    return RedirectResponse(home_of(active.user), status_code=303)




router = APIRouter()
router.include_router(pages)
router.include_router(signin)
