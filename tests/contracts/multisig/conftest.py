"""Fixtures for the Multisig tests (run on the fork through `ape test`)."""

from __future__ import annotations

import pytest
from msig_utils import (
    HERE,
    RECOVERY_DELAY,
    SAFE_PROXY_FACTORY,
    SAFE_SINGLETON,
    deploy_safe_proxy,
    safe_container,
    vyper_container,
)


@pytest.fixture(scope="session")
def multisig_container(project):
    """contracts/Multisig.vy as compiled by ape."""
    return project.Multisig


@pytest.fixture(scope="session")
def keeper(accounts):
    """Submits transactions; not an owner."""
    return accounts[0]


@pytest.fixture(scope="session")
def owner_accounts(accounts):
    """Five owners (ape test accounts, so they can also send approveHash)."""
    return [accounts[i] for i in range(1, 6)]


@pytest.fixture(scope="session")
def recovery_accounts(accounts):
    """Three recovery-quorum members."""
    return [accounts[i] for i in range(6, 9)]


@pytest.fixture(scope="session")
def outsider(accounts):
    """Neither owner nor recovery member."""
    return accounts[9]


@pytest.fixture(scope="module")
def cold(multisig_container, keeper, owner_accounts, recovery_accounts):
    """3-of-5 cold multisig with a 2-of-3 recovery quorum (30 days), funded with 10 ETH."""
    msig = keeper.deploy(
        multisig_container,
        [a.address for a in owner_accounts],
        3,
        [a.address for a in recovery_accounts],
        2,
        RECOVERY_DELAY,
    )
    keeper.transfer(msig, 10 * 10**18)
    return msig


@pytest.fixture(scope="module")
def warm(multisig_container, keeper, owner_accounts, recovery_accounts):
    """2-of-3 warm multisig."""
    return keeper.deploy(
        multisig_container,
        [a.address for a in owner_accounts[:3]],
        2,
        [a.address for a in recovery_accounts],
        2,
        RECOVERY_DELAY,
    )


@pytest.fixture(scope="module")
def token(keeper, cold, warm):
    """Test ERC-20 (6 decimals) with 1,000,000.000000 minted to each multisig."""
    tok = keeper.deploy(vyper_container(HERE / "TestToken.vy"))
    tok.mint(cold, 10**12, sender=keeper)
    tok.mint(warm, 10**12, sender=keeper)
    return tok


@pytest.fixture(scope="module")
def signer_1271(keeper, owner_accounts):
    """EIP-1271 contract whose inner signer is a fresh key (not an owner itself)."""
    from eth_account import Account

    inner = Account.from_key(b"\x11" * 32)
    contract = keeper.deploy(vyper_container(HERE / "Mock1271Signer.vy"), inner.address)
    return contract, inner.key.hex()


@pytest.fixture(scope="session")
def safe_singleton_and_factory(chain, keeper):
    """Safe 1.4.1 singleton + proxy factory: canonical ones if the upstream has them, else ours."""
    code = chain.provider.web3.eth.get_code(SAFE_SINGLETON)
    if len(code) > 0:
        singleton = safe_container("Safe.sol/Safe.json").at(SAFE_SINGLETON)
        factory = safe_container("proxies/SafeProxyFactory.sol/SafeProxyFactory.json").at(SAFE_PROXY_FACTORY)
        return singleton, factory, True
    singleton = keeper.deploy(safe_container("Safe.sol/Safe.json"))
    factory = keeper.deploy(safe_container("proxies/SafeProxyFactory.sol/SafeProxyFactory.json"))
    return singleton, factory, False


@pytest.fixture(scope="module")
def real_safe(chain, keeper, owner_accounts, safe_singleton_and_factory):
    """A real Safe 1.4.1 proxy, 3-of-5 over the same owners as `cold`, funded with 1 ETH."""
    singleton, factory, _ = safe_singleton_and_factory
    safe = deploy_safe_proxy(chain, keeper, singleton, factory, [a.address for a in owner_accounts], 3, 7)
    keeper.transfer(safe.address, 10**18)
    return safe


@pytest.fixture(scope="module", autouse=True)
def _module_contracts(cold, warm, token, signer_1271, real_safe):
    """Deploy every module-scoped contract before the first test (keeps ape's isolation cheap)."""
    return cold, warm, token, signer_1271, real_safe
