"""The compliance and treasury pages in a real headless chromium (Selenium), keyboard only:
a compliance officer opens a case with its evidence and trace graph and closes it with a
reason; a treasury user sees the tiers with their drift and a reconciliation break; neither
reaches the other's pages. Screenshots of each page are saved (paths printed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from api.console.compliance import case
from keeper.compliance import ComplianceService, RuleSet
from strongroom_testkit.browser import LiveServer, browser_login, chrome, screenshot
from strongroom_testkit.consoleops import MIXER, OpsWorld, audit_ops

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
REASON = "Withdrawal to a known mixer; customer could not document the source"


@pytest.fixture(scope="module")
def site(ow: OpsWorld) -> Iterator[str]:
    """The module's app served on a free port."""
    with LiveServer(ow.app()) as url:
        yield url


@pytest.fixture(scope="module")
def driver() -> Any:
    """The process's headless chromium."""
    return chrome()


def _wait(driver: Any, what: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 10).until(what)


def test_a_compliance_officer_closes_a_case_with_a_reason(driver: Any, site: str,
                                                           ow: OpsWorld) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    cid = ow.cases[0]
    browser_login(driver, site, "compliance")
    _wait(driver, lambda d: d.current_url == f"{site}/console/compliance/")
    assert f"#{cid}" in driver.find_element(By.ID, "cases").text
    screenshot(driver, "compliance-cases")
    driver.get(f"{site}/console/compliance/alerts")
    screenshot(driver, "compliance-alerts")
    driver.get(f"{site}/console/compliance/cases/{cid}")
    assert "R005" in driver.find_element(By.ID, "movement").text
    assert "open" in driver.find_element(By.ID, "steps").text
    graph = driver.find_element(By.CSS_SELECTOR, "#trace-graph svg")
    assert "mixer" in graph.text and "own:vault" in graph.text and "partner:warp:" in graph.text
    assert MIXER in driver.find_element(By.ID, "trace-edges").text
    assert driver.execute_script("return document.querySelectorAll('script:not([src])').length") == 0
    screenshot(driver, "compliance-case")
    driver.execute_script("arguments[0].scrollIntoView()", graph)
    screenshot(driver, "compliance-case-trace")
    reason = driver.find_element(By.ID, "close-reason")
    reason.send_keys(REASON)
    reason.send_keys(Keys.TAB)  # keyboard only: to the button, then Enter
    assert driver.switch_to.active_element.get_attribute("id") == "close-case"
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    _wait(driver, lambda d: d.find_elements(By.ID, "done"))
    assert driver.find_element(By.ID, "done").text == "Case closed."
    assert driver.find_element(By.ID, "case-status").text == "closed"
    assert not driver.find_elements(By.ID, "close-form")
    screenshot(driver, "compliance-case-closed")
    v = case(ComplianceService(ow.engine, RuleSet.load()), cid)
    assert v is not None and (v.case.status, v.case.outcome) == ("closed", "confirm")
    (decided,) = [r for r in audit_ops(ow.engine, "compliance.case.decide")
                  if r["params"]["case"] == cid]
    assert decided["actor"] == "console:compliance" and decided["params"]["note"] == REASON
    assert [r["actor"] for r in audit_ops(ow.engine, "compliance.case.close")
            if r["params"]["case"] == cid] == ["console:compliance"]
    driver.get(f"{site}/console/treasury/")  # not this officer's area
    assert driver.find_element(By.TAG_NAME, "h1").text == "Not allowed"
    assert "/resolve" not in driver.page_source
    screenshot(driver, "compliance-refused-treasury")


def test_a_treasury_user_sees_tiers_with_drift_and_a_break(driver: Any, site: str,
                                                            ow: OpsWorld) -> None:
    from selenium.webdriver.common.by import By

    browser_login(driver, site, "treasury")
    _wait(driver, lambda d: d.current_url == f"{site}/console/treasury/")
    tiers = driver.find_element(By.ID, "tiers").text
    assert "6.00000000 BTC" in tiers and "+25.00%" in tiers and "out of band" in tiers
    chart = driver.find_element(By.CSS_SELECTOR, "#chart-BTC").text
    assert "out of band" in chart and "drift" in driver.page_source
    breaks = driver.find_element(By.ID, "open-breaks").text
    assert f"{ow.breaks['investigate']}" in breaks and "investigate" in breaks
    assert "0.100000000000000000 ETH" in breaks
    assert "vault" in driver.find_element(By.ID, "followers").text
    screenshot(driver, "treasury")
    driver.execute_script("arguments[0].scrollIntoView()",
                          driver.find_element(By.CSS_SELECTOR, "#chart-BTC"))
    screenshot(driver, "treasury-tier-charts")
    driver.get(f"{site}/console/treasury/recon/{ow.run_id}")
    assert "critical" in driver.find_element(By.ID, "run-breaks").text
    screenshot(driver, "treasury-recon-run")
    driver.get(f"{site}/console/compliance/cases/{ow.cases[4]}")  # not this officer's area
    assert driver.find_element(By.TAG_NAME, "h1").text == "Not allowed"
    assert not driver.find_elements(By.ID, "close-form")
    screenshot(driver, "treasury-refused-compliance")
