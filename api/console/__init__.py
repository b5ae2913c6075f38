"""The web console: server-rendered pages (Jinja2 + htmx) for staff and clients, under ``/console``.

``api.main`` includes :data:`router` and mounts :func:`static_files` at ``/console/static``
(``console.css`` and htmx from ``node_modules/htmx.org/dist``: no CDN, no front-end build).
Sessions, users and roles live in ``keeper.console``; the machinery in :mod:`api.console.core`.

How to add a page (e.g. ``api/console/treasury.py``)
-----------------------------------------------------
1. Router: ``router = page_router()`` (from ``api.console.core``; ``page_router("/area")``
   prefixes the area; ``csrf=False`` is for the sign-in form only); paths are under ``/console``
   (``@router.get("/treasury/")`` serves ``/console/treasury/``). The router brings the security
   headers, HTML error pages and the CSRF guard for every non-GET route. Import the module in
   :func:`build_router` below and add it to the tuple there; give it a navigation entry in
   ``api/console/nav.py``.
2. Role guard: a parameter ``user: Annotated[User, Depends(require(TREASURY, OPS, AUDITOR))]``
   (roles from ``keeper.console``). Not signed in: redirect to the login page; another role:
   403. For read-only roles, check ``user.roles`` in the handler of a POST (e.g. require
   ``TREASURY`` only on the POST route: ``Depends(require(TREASURY))``).
3. Template: ``{% extends "base.html" %}`` with ``{% block title %}`` and ``{% block main %}``;
   your templates in ``api/console/templates/<area>/``; answer with
   ``render(request, "treasury/index.html", {...})`` (adds ``user``, ``csrf``, ``nav``).
   Amounts: the ``units`` filter (``{{ amount|units(decimals) }}``: integers only, the one
   formatting helper ``keeper.clients.portfolio.display_amount``).
   No inline ``<script>`` or ``style=`` attributes (the CSP refuses them); SVG presentation
   attributes (``fill=``, ``stroke=``) are fine; Jinja2 autoescapes every ``{{ }}``.
4. CSRF in forms: ``<form method="post" action="...">`` with
   ``{% include "csrf.html" %}`` inside (the hidden field ``csrf_token``); htmx requests carry
   the ``X-CSRF-Token`` header from ``<body hx-headers>`` automatically. Forms must work
   without JavaScript (a POST answers a redirect 303 or a page).
5. Audit: domain services audit their own changes (pass ``actor=user.actor``
   where they take one); for anything else (a download, a refusal worth keeping) call
   ``audit(request, "console.<what>", params, result)``. Every request is also recorded by
   ``api/audit.py`` with the actor ``console:<login>``.
6. Tests: ``tests/strongroom_testkit/browser.py``: in-process
   ``TestClient(app, follow_redirects=False)`` + ``form_login(client, login)`` (returns the
   CSRF token) and ``post_form(client, path, data, csrf)`` for TestClient tests;
   for the browser, ``chrome()`` (one headless chromium per process), ``LiveServer(app)`` (uvicorn
   on a free port in a thread), ``browser_login(driver, base_url, login, password)`` and
   ``screenshot(driver, name)`` (PNG under ``.data/screenshots/<run>/``, path printed).
   A world with users: ``console_world(tmp_path)`` (``apiworld``'s two clients plus one login per
   role; passwords in ``ConsoleWorld.passwords``).
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.staticfiles import StaticFiles

from api.console.core import HERE, PREFIX
from keeper.config import ROOT

HTMX_DIR = ROOT / "node_modules" / "htmx.org" / "dist"
STATIC_PATH = f"{PREFIX}/static"


def build_router() -> APIRouter:
    """Every console page module's routes in one router."""
    from api.console import auth, client, compliance, signer, treasury  # they import core

    out = APIRouter()
    for pages in (auth, client, signer, compliance, treasury):
        out.include_router(pages.router)
    return out


def static_files() -> StaticFiles:
    """The console's static files (``api/console/static``) and htmx's ``dist`` folder."""
    files = StaticFiles(directory=HERE / "static")
    if HTMX_DIR.is_dir():
        files.all_directories.append(HTMX_DIR)
    return files


router = build_router()
