"""The signer queue in a real headless chromium on the fork: a signer linked to the HSM's
``safe-signer`` owner sees a pending transfer of a 2-of-3 Multisig (decoded, whitelisted, one
confirmation of two), confirms it with the HSM key, and the executor (run as its job runs it)
executes it on chain; a bad pasted signature is refused and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from api.main import create_app
from keeper.chain import SenderConfig
from keeper.console import SIGNER, create_user
from keeper.deployments import Deployment
from keeper.keys import Keyring, SafeTx, SoftwareSigner, safe_tx_hash, sign_hash
from keeper.keys.hsm import ensure_local_token
from keeper.ledger import Ledger
from keeper.safetx import Proposal, SafeChain, SafeTxExecutor, SafeTxService, Status
from strongroom_testkit import ZERO_ADDRESS
from strongroom_testkit.browser import (
    PASSWORD,
    LiveServer,
    browser_login,
    chrome,
    console_world,
    screenshot,
    wait_for,
)

pytestmark = [pytest.mark.fork, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
DEST = "0x000000000000000000000000000000000000dEaD"
AMOUNT = 3 * 10**18  # wei
SENDER = SenderConfig(max_fee_wei=300 * 10**9, bump_after_s=60, confirmations=1)


def _sign(account: Any, digest: bytes) -> bytes:
    """``account``'s own 65-byte signature of a safeTxHash (its wallet's key, not the HSM)."""
    return sign_hash(SoftwareSigner(bytes.fromhex(account.private_key[2:])), digest)


@pytest.fixture(scope="module")
def fork_site(tmp_path_factory: pytest.TempPathFactory, chain: Any, accounts: Any,
              project: Any) -> Iterator[dict[str, Any]]:
    """A console world on the fork: a Multisig (HSM key + two software owners, 2 of 3), a vault
    whose whitelist lists DEST, a pending proposal of AMOUNT wei to DEST, the live server."""
    cw = console_world(Path(tmp_path_factory.mktemp("console-fork")))
    hsm = ensure_local_token(cw.world.data_dir, ec_keys=("safe-signer",))
    ring = Keyring.from_hsm(hsm, labels=("safe-signer",))
    hsm_owner = ring.eth_address("safe-signer")
    deployer, proposer = accounts[0], accounts[1]
    msig = deployer.deploy(project.Multisig, [hsm_owner, proposer.address, accounts[2].address],
                           2, [accounts[i].address for i in (6, 7, 8)], 2, 30 * 86400)
    deployer.transfer(msig, 5 * 10**18)
    chain.provider.set_balance(hsm_owner, 10**20)  # the executor pays gas from this key
    whitelist = project.Whitelist.deploy(deployer, deployer, 0, [DEST], sender=deployer)
    vault = project.Vault.deploy(deployer, whitelist, ZERO_ADDRESS, sender=deployer)
    cw.world.deploy(Deployment(chain.chain_id, {"vault": vault.address}).to_json())
    engine = create_engine(cw.world.url)
    create_user(engine, "signer-hsm", PASSWORD, [SIGNER], owner_address=hsm_owner)
    engine.dispose()
    settings = cw.settings(rpc_url=str(chain.provider.uri), chain_id=chain.chain_id)
    app = create_app(settings)
    service = SafeTxService(app.state.engine, SafeChain(settings.rpc_url, settings.chain_id))
    service.register_safe(msig.address)
    tx = SafeTx(DEST, AMOUNT, b"", 0, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS, 0)
    digest = safe_tx_hash(chain.chain_id, msig.address, tx)
    h = service.propose(Proposal(msig.address, tx, digest, proposer.address,
                                 _sign(proposer, digest), "tests"))
    with LiveServer(app) as url:
        yield {"url": url, "service": service, "hash": h, "msig": msig, "ring": ring,
               "settings": settings, "owners": [proposer, accounts[2]]}
    ring.close()


def test_signer_confirms_with_the_hsm_key_and_the_multisig_executes(
        fork_site: dict[str, Any], chain: Any) -> None:
    from selenium.webdriver.common.by import By

    driver, site, h = chrome(), fork_site["url"], fork_site["hash"]
    service: SafeTxService = fork_site["service"]
    browser_login(driver, site, "signer-hsm")
    assert driver.current_url == f"{site}/console/signer/"
    pending = driver.find_element(By.CSS_SELECTOR, "table.pending").text
    assert "ETH" in pending and "3" in pending and DEST in pending
    assert "whitelisted" in pending and "not whitelisted" not in pending
    assert "1 of 2 pending" in pending
    screenshot(driver, "signer-queue")

    driver.find_element(By.CSS_SELECTOR, "a.open-tx").click()
    wait_for(driver, lambda d: "/console/signer/tx/" in d.current_url)
    assert driver.find_element(By.ID, "safe-tx-hash").text == h
    typed = driver.find_element(By.ID, "typed-data").text
    assert '"primaryType": "SafeTx"' in typed and fork_site["msig"].address in typed
    assert driver.find_element(By.ID, "whitelisted").text == "yes"
    driver.find_element(By.ID, "signature").send_keys("0x" + "11" * 65)  # not an owner's
    driver.find_element(By.ID, "confirm-pasted").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "tx-error"))
    assert len(service.get(h).confirmations) == 1  # refused: nothing changed
    screenshot(driver, "signer-tx-refused-signature")

    driver.find_element(By.ID, "sign-hsm").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "tx-message"))
    assert driver.find_element(By.ID, "confirmations").text == "2 of 2"
    screenshot(driver, "signer-tx-confirmed")
    rec = service.get(h)
    assert rec.status == Status.PENDING and len(rec.confirmations) == 2
    with service.engine.connect() as conn:  # audited by the service, via the console user
        trail = list(conn.execute(text("SELECT body FROM audit_records")).scalars())
    assert any('"safetx.confirm"' in b and "console:signer-hsm" in b for b in trail)

    before = chain.provider.get_balance(DEST)
    lg = Ledger(service.engine, group_commit=False)
    executor = SafeTxExecutor(service, fork_site["ring"], alert=lg.raise_alert,
                              label="safe-signer", max_age=timedelta(days=7),
                              sender_config=SENDER)
    assert executor.run_once() == 1
    assert service.get(h).status == Status.EXECUTED
    assert chain.provider.get_balance(DEST) == before + AMOUNT
    driver.get(f"{site}/console/signer/")
    executed = driver.find_element(By.CSS_SELECTOR, "table.executed").text
    assert DEST in executed
    screenshot(driver, "signer-executed-history")

    # the other path: a second owner's signature pasted into the form (made by its own wallet)
    msig, proposer, second = fork_site["msig"], fork_site["owners"][0], fork_site["owners"][1]
    tx = SafeTx(DEST, 1, b"", 0, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS, 1)
    digest = safe_tx_hash(chain.chain_id, msig.address, tx)
    h2 = service.propose(Proposal(msig.address, tx, digest, proposer.address,
                                  _sign(proposer, digest), "tests"))
    driver.get(f"{site}/console/signer/tx/{h2}")
    driver.find_element(By.ID, "signature").send_keys("0x" + _sign(second, digest).hex())
    driver.find_element(By.ID, "confirm-pasted").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "tx-message"))
    assert driver.find_element(By.ID, "confirmations").text == "2 of 2"
    assert executor.run_once() == 1 and service.get(h2).status == Status.EXECUTED
    assert chain.provider.get_balance(DEST) == before + AMOUNT + 1
