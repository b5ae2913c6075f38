"""The web console's test harness: a headless chromium, a live server and a world with logins.

* :func:`chrome`: one headless Debian chromium per test process (Selenium, ``/usr/bin/chromium``
  driven by ``/usr/bin/chromedriver``; ``SE_OFFLINE=true`` so Selenium Manager never downloads),
  quit at exit; :func:`skip_without_chromium` says why when it is missing.
* :class:`LiveServer`: an app served by uvicorn on a free port in a thread (``with
  LiveServer(app) as base_url``).
* :func:`screenshot`: a PNG of the page under ``.data/screenshots/<run>/`` (path printed).
* :func:`browser_login`: sign in through the form.
* :func:`console_world`: :mod:`strongroom_testkit.apiworld`'s two clients plus one console login
  per role (:data:`LOGINS`; passwords in :attr:`ConsoleWorld.passwords`).
* TestClient helpers: :func:`form_login` (returns the session's CSRF token) and :func:`post_form`
  (a same-origin form post carrying that token).
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from keeper.config import ROOT, Settings
from keeper.console import (
    AUDITOR,
    CLIENT,
    COMPLIANCE,
    OPS,
    SIGNER,
    TREASURY,
    create_user,
)
from scripts.localnet import free_port
from strongroom_testkit.apiworld import World, build_world

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
RUN = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
SCREENSHOTS = ROOT / ".data" / "screenshots" / RUN
PASSWORD = "correct horse battery staple"  # every test login's password (tests only)
TEST_ORIGIN = "http://testserver"  # TestClient's base URL
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def skip_without_chromium() -> None:
    """Skip the calling test when Debian's chromium or chromedriver is not installed."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            pytest.skip(f"{path} is missing: apt-get install chromium chromium-driver")


@functools.cache
def chrome() -> Any:
    """The process's one headless chromium (a Selenium ``WebDriver``), quit at exit."""
    skip_without_chromium()
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--disable-extensions", "--no-first-run"):
        options.add_argument(arg)
    downloads = SCREENSHOTS / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False,
        "plugins.always_open_pdf_externally": True})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    atexit.register(driver.quit)
    return driver


def downloads_dir() -> Path:
    """Where the shared chromium saves downloads."""
    return SCREENSHOTS / "downloads"


def screenshot(driver: Any, name: str) -> Path:
    """Save a PNG of the current page as ``<name>.png`` under this run's folder; its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


class LiveServer:
    """``app`` served by uvicorn on 127.0.0.1 and a free port, in a thread of this process."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, name="console-live", daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the console's live server did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def browser_login(driver: Any, base_url: str, login: str, password: str = PASSWORD) -> None:
    """Sign in through the console's form (keyboard only: type, then Enter)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.delete_all_cookies()
    driver.get(f"{base_url}/console/login")
    driver.find_element(By.ID, "login").send_keys(login)
    form = driver.find_element(By.ID, "password")
    form.send_keys(password + Keys.ENTER)
    wait_for(driver, lambda d: _stale(form))


def _stale(element: Any) -> bool:
    """Whether ``element`` left the document (the next page replaced it). During navigation
    chromedriver may report that as an inspector error ("Node with given id does not belong to
    the document") instead of a stale reference: the same fact, seen mid-swap."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False


def wait_for(driver: Any, condition: Any, timeout: float = 10.0) -> Any:
    """Wait until ``condition(driver)`` is truthy (e.g. the next page loaded); its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


LOGINS: dict[str, dict[str, Any]] = {
    "signer": {"roles": [SIGNER]},
    "compliance": {"roles": [COMPLIANCE]},
    "treasury": {"roles": [TREASURY]},
    "ops": {"roles": [OPS]},
    "auditor": {"roles": [AUDITOR]},
}


@dataclass
class ConsoleWorld:
    """The API world plus console logins: ``alice`` and ``bob`` (clients), one per staff role."""

    world: World
    passwords: dict[str, str] = field(default_factory=dict)

    def settings(self, **overrides: Any) -> Settings:
        """The world's settings (a high API rate limit: a browser test is one busy address)."""
        base = self.world.settings()
        values = {"rate_limit_per_minute": 100_000, **overrides}
        return base.model_copy(update=values)


def console_world(data_dir: Path) -> ConsoleWorld:
    """A fresh :func:`~strongroom_testkit.apiworld.build_world` with console logins."""
    world = build_world(data_dir)
    engine = create_engine(world.url)
    out = ConsoleWorld(world)
    try:
        create_user(engine, "alice", PASSWORD, [CLIENT], client_id=world.alice.client.id)
        create_user(engine, "bob", PASSWORD, [CLIENT], client_id=world.bob.client.id)
        out.passwords.update(alice=PASSWORD, bob=PASSWORD)
        for login, spec in LOGINS.items():
            create_user(engine, login, PASSWORD, spec["roles"])
            out.passwords[login] = PASSWORD
    finally:
        engine.dispose()
    return out


def csrf_in(html: str) -> str:
    """The CSRF token of a console page's forms."""
    found = CSRF_INPUT.search(html)
    if not found:
        raise AssertionError("no csrf_token field in the page")
    return found.group(1)


def form_login(client: TestClient, login: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in through the form; the session's CSRF token (raises if refused)."""
    client.cookies.clear()
    page = client.get("/console/login")
    r = client.post("/console/login", data={"login": login, "password": password,
                                            "csrf_token": csrf_in(page.text)},
                    headers={"Origin": TEST_ORIGIN})
    if r.status_code != 303:
        raise AssertionError(f"login {login} refused: {r.status_code}")
    return csrf_in(client.get("/console/me").text)


def post_form(client: TestClient, path: str, data: dict[str, Any], csrf: str | None) -> Any:
    """A same-origin form post of ``data`` plus ``csrf_token`` (omitted when ``None``)."""
    body = dict(data) if csrf is None else {**data, "csrf_token": csrf}
    return client.post(path, data=body, headers={"Origin": TEST_ORIGIN})
