"""The console's rules in-process: sign-in, sessions, roles, CSRF, headers, client isolation;
and logins outside the web: the CLI (add, disable, list), the login rules, the demo seed
(idempotent, 0600 password files). One world for the module (a world costs seconds: Argon2)."""

from __future__ import annotations

import io
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.console.auth import LOGIN_PER_MINUTE
from keeper.console import (
    CLIENT,
    SIGNER,
    ConsoleUserError,
    create_user,
    get_user,
    verify_password,
)
from keeper.console.__main__ import main
from keeper.console.demo import seed
from keeper.console.models import ConsoleSession
from strongroom_testkit.browser import (
    PASSWORD,
    TEST_ORIGIN,
    ConsoleWorld,
    csrf_in,
    form_login,
    post_form,
)


def _audit_ops(cworld: ConsoleWorld) -> list[str]:
    engine = create_engine(cworld.world.url)
    try:
        with engine.connect() as conn:
            bodies = conn.execute(text("SELECT body FROM audit_records ORDER BY seq")).scalars()
            return list(bodies)
    finally:
        engine.dispose()


def test_pages_need_a_session_and_send_security_headers(web: TestClient) -> None:
    r = web.get("/console/client/balances")
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login?next=")
    page = web.get("/console/login")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "<script>" not in page.text and " style=" not in page.text


def test_login_sets_a_strict_httponly_cookie_and_rotates_the_session(
        web: TestClient, cworld: ConsoleWorld) -> None:
    page = web.get("/console/login")
    r = web.post("/console/login", data={"login": "alice", "password": PASSWORD,
                                         "csrf_token": csrf_in(page.text)},
                 headers={"Origin": TEST_ORIGIN})
    assert r.status_code == 303 and r.headers["location"] == "/console/client/balances"
    cookie = r.headers["set-cookie"]
    assert "sr_console=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    first = web.cookies.get("sr_console")
    assert web.get("/console/client/balances").status_code == 200
    page = web.get("/console/login")  # signing in again with the old cookie: a new id
    r = web.post("/console/login", data={"login": "alice", "password": PASSWORD,
                                         "csrf_token": csrf_in(page.text)},
                 headers={"Origin": TEST_ORIGIN})
    second = web.cookies.get("sr_console")
    assert r.status_code == 303 and second and second != first
    web.cookies.clear()
    web.cookies.set("sr_console", first, domain="testserver.local", path="/console")
    assert web.get("/console/client/balances").status_code == 303  # the old id was revoked
    assert first not in str(_audit_ops(cworld))  # the session id is never written anywhere


def test_a_wrong_password_and_an_unknown_login_fail_alike_and_are_audited(
        web: TestClient, cworld: ConsoleWorld) -> None:
    answers = []
    for login, password in (("alice", "not the password!"), ("nobody-here", PASSWORD),
                            ("my-secret-password-typed-here", "x")):
        page = web.get("/console/login")
        r = web.post("/console/login", data={"login": login, "password": password,
                                             "csrf_token": csrf_in(page.text)},
                     headers={"Origin": TEST_ORIGIN})
        answers.append((r.status_code, r.text.count("Sign-in failed")))
        assert "sr_console=" not in r.headers.get("set-cookie", "")
    assert answers == [(401, 1), (401, 1), (401, 1)]
    trail = _audit_ops(cworld)
    failed = [b for b in trail if '"console.login_failed"' in b]
    assert len(failed) >= 3 and any('"login":"alice"' in b for b in failed)
    assert not any("not the password" in b or "my-secret-password" in b or "nobody-here" in b
                   for b in trail)  # an unknown login name is kept as a digest only


def test_login_is_throttled_per_login_name(web: TestClient) -> None:
    codes = []
    for _ in range(LOGIN_PER_MINUTE + 1):
        page = web.get("/console/login")
        codes.append(web.post("/console/login", data={
            "login": "auditor", "password": "wrong wrong wrong", "csrf_token": csrf_in(page.text)},
            headers={"Origin": TEST_ORIGIN}).status_code)
    assert codes == [401] * LOGIN_PER_MINUTE + [429]
    page = web.get("/console/login")  # the right password is refused too while throttled
    r = web.post("/console/login", data={"login": "auditor", "password": PASSWORD,
                                         "csrf_token": csrf_in(page.text)},
                 headers={"Origin": TEST_ORIGIN})
    assert r.status_code == 429


def test_login_form_needs_its_token_and_this_origin(web: TestClient) -> None:
    page = web.get("/console/login")
    token = csrf_in(page.text)
    body = {"login": "alice", "password": PASSWORD, "csrf_token": token}
    assert web.post("/console/login", data=body,
                    headers={"Origin": "https://evil.example"}).status_code == 403
    assert web.post("/console/login", data={**body, "csrf_token": "forged"},
                    headers={"Origin": TEST_ORIGIN}).status_code == 403
    assert web.post("/console/login", data=body, headers={"Origin": TEST_ORIGIN}
                    ).status_code == 303


def test_post_without_csrf_token_or_from_elsewhere_is_refused(web: TestClient) -> None:
    csrf = form_login(web, "alice")
    assert post_form(web, "/console/logout", {}, None).status_code == 403
    assert post_form(web, "/console/logout", {}, "wrong-token").status_code == 403
    r = web.post("/console/logout", data={"csrf_token": csrf},
                 headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert web.get("/console/client/balances").status_code == 200  # still signed in
    assert post_form(web, "/console/logout", {}, csrf).status_code == 303
    assert web.get("/console/client/balances").status_code == 303  # logout revoked it


def test_a_client_sees_only_its_own_data_and_no_staff_page(
        web: TestClient, cworld: ConsoleWorld) -> None:
    form_login(web, "bob")
    page = web.get("/console/client/transactions")
    assert page.status_code == 200 and "b-dep-1" in page.text and "a-dep-1" not in page.text
    assert web.get("/console/client/transactions/a-dep-1").status_code == 404
    assert web.get("/console/client/transactions/b-dep-1").status_code == 200
    for staff_page in ("/console/signer/",):
        assert web.get(staff_page).status_code == 403


def test_staff_cannot_open_client_pages(web: TestClient) -> None:
    form_login(web, "signer")
    assert web.get("/console/client/balances").status_code == 403


def test_the_session_ends_after_the_idle_timeout(web: TestClient, cworld: ConsoleWorld) -> None:
    form_login(web, "ops")
    assert web.get("/console/").status_code == 303
    assert web.get("/console/signer/").status_code == 403  # signed in: a role refusal
    idle = cworld.settings().console_session_minutes
    engine = create_engine(cworld.world.url)
    try:
        with engine.begin() as conn:  # the session was last used idle + 1 minutes ago
            conn.execute(ConsoleSession.__table__.update().values(
                last_seen=datetime.now(UTC) - timedelta(minutes=idle + 1)))
    finally:
        engine.dispose()
    assert web.get("/console/signer/").status_code == 303  # ended: to the login page


def test_hsm_signing_needs_a_signer_linked_to_the_key(web: TestClient) -> None:
    path = "/console/signer/tx/0x" + "ab" * 32 + "/sign"
    csrf = form_login(web, "signer")  # a signer with no owner address
    assert post_form(web, path, {}, csrf).status_code == 403
    csrf = form_login(web, "compliance")  # not a signer at all
    assert post_form(web, path, {}, csrf).status_code == 403
    assert post_form(web, "/console/signer/tx/0x" + "ab" * 32 + "/confirm",
                     {"signature": "0x" + "11" * 65}, csrf).status_code == 403


def test_static_files_are_served_locally(web: TestClient) -> None:
    from api.console import HTMX_DIR

    css = web.get("/console/static/console.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    if not (HTMX_DIR / "htmx.min.js").exists():
        pytest.skip(f"{HTMX_DIR} is missing: npm install (set-up) provides htmx")
    js = web.get("/console/static/htmx.min.js")
    assert js.status_code == 200 and "htmx" in js.text[:2000]


def test_malformed_requests_get_the_console_error_page(web: TestClient) -> None:
    form_login(web, "signer")
    r = web.get("/console/signer/tx/0x<script>alert(1)")
    assert r.status_code == 400 and "text/html" in r.headers["content-type"]
    assert "<script>alert" not in r.text and r.headers["x-frame-options"] == "DENY"


def test_the_cookie_is_secure_over_https(capp: FastAPI) -> None:
    with TestClient(capp, base_url="https://testserver", follow_redirects=False) as web:
        page = web.get("/console/login")
        r = web.post("/console/login", data={"login": "treasury", "password": PASSWORD,
                                             "csrf_token": csrf_in(page.text)},
                     headers={"Origin": "https://testserver"})
        assert r.status_code == 303
        session = [c for c in r.headers.get_list("set-cookie") if c.startswith("sr_console=")]
        assert session and "Secure" in session[0] and "HttpOnly" in session[0]


def test_a_statement_download_is_audited_and_never_cached(
        web: TestClient, cworld: ConsoleWorld) -> None:
    form_login(web, "bob")
    w = cworld.world
    r = web.get(f"/console/client/statements/{w.year}/{w.month}.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert r.headers["cache-control"] == "no-store"
    downloads = [b for b in _audit_ops(cworld) if '"console.statement_download"' in b]
    assert any('"actor":"console:bob"' in b and w.bob.client.id in b for b in downloads)


# ------------------------------------------------ logins outside the web: CLI, rules, demo seed
def test_cli_adds_lists_and_disables_a_login(cworld: ConsoleWorld, capsys: pytest.CaptureFixture,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    db = ["--db", cworld.world.url]
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main([*db, "add-user", "Carol", "--role", "treasury", "--role", "ops"]) == 0
    assert main([*db, "add-user", "carol", "--role", "ops", "--generate"]) == 1  # exists
    assert main([*db, "add-user", "dave", "--role", "root", "--generate"]) == 1
    capsys.readouterr()
    assert main([*db, "list"]) == 0
    listed = capsys.readouterr().out
    assert "carol\tops treasury\t-\t-\tactive" in listed and "argon2" not in listed
    engine = create_engine(cworld.world.url)
    try:
        assert verify_password(engine, "carol", "a long enough password") is not None
        assert main([*db, "disable-user", "carol"]) == 0
        assert verify_password(engine, "carol", "a long enough password") is None
    finally:
        engine.dispose()


def test_login_rules(cworld: ConsoleWorld) -> None:
    engine = create_engine(cworld.world.url)
    bad = [
        dict(login="x", password=PASSWORD, roles=[SIGNER]),  # too short a login
        # "console:" + 57 characters would not fit the 64-character actor columns (PostgreSQL
        # refuses the row: the officer's decision would fail after the login worked)
        dict(login="e" * 57, password=PASSWORD, roles=[SIGNER]),
        dict(login="erin", password="short", roles=[SIGNER]),  # too short a password
        dict(login="erin", password=PASSWORD, roles=[]),
        dict(login="erin", password=PASSWORD, roles=[CLIENT]),  # a client needs a client id
        dict(login="erin", password=PASSWORD, roles=[CLIENT, SIGNER], client_id="c"),
        dict(login="erin", password=PASSWORD, roles=[CLIENT], client_id="no-such-client"),
        dict(login="erin", password=PASSWORD, roles=[SIGNER], client_id="c"),
        dict(login="erin", password=PASSWORD, roles=["compliance"], owner_address="0x" + "1" * 40),
    ]
    try:
        for spec in bad:
            with pytest.raises(ConsoleUserError):
                create_user(engine, spec.pop("login"), spec.pop("password"), spec.pop("roles"),
                            **spec)
        assert get_user(engine, "erin") is None
    finally:
        engine.dispose()


def test_demo_seed_is_idempotent_and_keeps_passwords_private(cworld: ConsoleWorld) -> None:
    settings = cworld.settings()
    first = seed(settings)
    assert {role for _, role, _ in first} == {"signer", "compliance", "treasury", "ops",
                                              "auditor", "client"}
    assert seed(settings) == first  # nothing new, the same passwords
    engine = create_engine(cworld.world.url)
    try:
        for login, _, _ in first:
            mode = stat.S_IMODE(Path(settings.secrets_dir / "console" /
                                     f"{login}.password").stat().st_mode)
            assert mode == 0o600
        for login, _, password in (first[0], first[-1]):  # a staff and the client login
            assert verify_password(engine, login, password) is not None
        client = get_user(engine, "demo-client")
        assert client is not None and client.client_id in {cworld.world.alice.client.id,
                                                           cworld.world.bob.client.id}
    finally:
        engine.dispose()
