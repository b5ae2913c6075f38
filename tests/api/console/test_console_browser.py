"""The console in a real headless chromium (Selenium): clients' pages, isolation, sign-out.

One live server on one world for the module; the process's one browser."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine

from keeper.console.models import ConsoleSession
from strongroom_testkit.browser import (
    ConsoleWorld,
    LiveServer,
    browser_login,
    chrome,
    downloads_dir,
    screenshot,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def site(capp: FastAPI, cworld: ConsoleWorld) -> Iterator[str]:
    """The module's app served on a free port (a vault recorded: deposit instructions)."""
    cworld.world.deploy()
    with LiveServer(capp) as url:
        yield url


@pytest.fixture(scope="module")
def driver() -> Any:
    """The process's headless chromium."""
    return chrome()


def _by() -> Any:
    from selenium.webdriver.common.by import By

    return By


def test_client_sees_balances_and_transactions_pages(driver: Any, site: str,
                                                       cworld: ConsoleWorld) -> None:
    By = _by()  # noqa: N806
    driver.get(f"{site}/console/login")
    screenshot(driver, "login")
    browser_login(driver, site, "alice")
    assert driver.current_url == f"{site}/console/client/balances"
    table = driver.find_element(By.ID, "balances").text
    assert "USDC" in table and "9,007,199,254.740999" in table  # 2**53+1+10-4 base units
    screenshot(driver, "client-balances")
    driver.get(f"{site}/console/client/transactions")
    assert driver.find_element(By.ID, "transactions").text.count("\n") >= 4  # alice's 4 posted
    assert "b-dep-1" not in driver.page_source  # bob's deposit is not alice's
    screenshot(driver, "client-transactions")


def _wait_file(folder: Path, suffix: str, before: set[Path], timeout: float = 15.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = {p for p in folder.glob(f"*{suffix}")} - before
        if new:
            return new.pop()
        time.sleep(0.05)
    raise AssertionError(f"no {suffix} downloaded into {folder}")


def test_client_downloads_a_statement_pdf(driver: Any, site: str, cworld: ConsoleWorld) -> None:
    By = _by()  # noqa: N806
    from selenium.webdriver.common.keys import Keys

    w = cworld.world
    browser_login(driver, site, "alice")
    driver.get(f"{site}/console/client/statements")
    screenshot(driver, "client-statements")
    folder = downloads_dir()
    before = set(folder.glob("*.pdf"))
    link = driver.find_element(
        By.CSS_SELECTOR, f'a[href="/console/client/statements/{w.year}/{w.month}.pdf"]')
    link.send_keys(Keys.ENTER)  # keyboard, as a user would
    pdf = _wait_file(folder, ".pdf", before)
    doc = pypdfium2.PdfDocument(str(pdf))
    text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    assert "Alice Capital" in text and "a-dep-1" in text and "b-dep-1" not in text


def test_client_deposit_instructions_and_a_transaction(driver: Any, site: str,
                                                        cworld: ConsoleWorld) -> None:
    By = _by()  # noqa: N806
    browser_login(driver, site, "alice")
    driver.get(f"{site}/console/client/deposit?asset=USDC")
    assert driver.find_element(By.ID, "client-ref").text.startswith("0x")
    assert "0x1111111111111111111111111111111111111111" in driver.find_element(By.ID, "deposit").text
    screenshot(driver, "client-deposit-instructions")
    driver.get(f"{site}/console/client/transactions/a-dep-1")
    assert "a-dep-1" in driver.page_source
    screenshot(driver, "client-transaction")


def test_a_client_cannot_reach_another_clients_or_staff_pages(driver: Any, site: str) -> None:
    By = _by()  # noqa: N806
    browser_login(driver, site, "bob")
    driver.get(f"{site}/console/client/transactions/a-dep-1")  # alice's
    assert driver.find_element(By.TAG_NAME, "h1").text == "Not found"
    screenshot(driver, "client-other-clients-transaction-404")
    driver.get(f"{site}/console/signer/")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Not allowed"
    screenshot(driver, "client-staff-page-403")
    status = driver.execute_script(
        "return fetch('/console/signer/', {credentials: 'same-origin'}).then(r => r.status)")
    assert status == 403


def test_a_post_without_the_csrf_token_is_refused(driver: Any, site: str) -> None:
    browser_login(driver, site, "bob")
    status = driver.execute_script(
        "return fetch('/console/logout', {method: 'POST', credentials: 'same-origin', "
        "headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'x=1'})"
        ".then(r => r.status)")
    assert status == 403
    driver.get(f"{site}/console/client/balances")  # still signed in: nothing happened
    assert driver.current_url.endswith("/console/client/balances")


def test_the_session_ends_after_the_idle_timeout(driver: Any, site: str,
                                                 cworld: ConsoleWorld) -> None:
    By = _by()  # noqa: N806
    browser_login(driver, site, "bob")
    driver.get(f"{site}/console/client/balances")
    assert driver.find_element(By.ID, "balances")
    idle = cworld.settings().console_session_minutes
    engine = create_engine(cworld.world.url)
    try:  # the session was last used just over the idle timeout ago
        with engine.begin() as conn:
            conn.execute(ConsoleSession.__table__.update().values(
                last_seen=datetime.now(UTC) - timedelta(minutes=idle, seconds=1)))
    finally:
        engine.dispose()
    driver.get(f"{site}/console/client/balances")
    assert "/console/login" in driver.current_url
    screenshot(driver, "login-after-idle-timeout")
