"""The console in a real headless chromium (Selenium): clients' pages, isolation, sign-out.

One live server on one world for the module; the process's one browser."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from strongroom_testkit.browser import (
    ConsoleWorld,
    LiveServer,
    browser_login,
    chrome,
    screenshot,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def site(capp: FastAPI) -> Iterator[str]:
    """The module's app served on a free port."""
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
    browser_login(driver, site, "alice")
    assert driver.current_url == f"{site}/console/client/balances"
    table = driver.find_element(By.ID, "balances").text
    assert "USDC" in table and "9,007,199,254.740999" in table  # 2**53+1+10-4 base units
    screenshot(driver, "client-balances")
    driver.get(f"{site}/console/client/transactions")
    assert driver.find_element(By.ID, "transactions").text.count("\n") >= 4  # alice's 4 posted
    assert "b-dep-1" not in driver.page_source  # bob's deposit is not alice's
    screenshot(driver, "client-transactions")
