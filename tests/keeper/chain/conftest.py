"""Chain-follower fixtures: a fresh open vault, funded real USDC/USDT, a migrated ledger."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from chainworld import deploy_vault

from keeper.audit import upgrade as audit_upgrade
from keeper.chain.migrate import upgrade as chain_upgrade
from keeper.ledger import Ledger, upgrade
from strongroom_testkit.dbtemplate import fresh_url


@pytest.fixture
def who(accounts: Any) -> SimpleNamespace:
    """Named actors (plain test accounts)."""
    return SimpleNamespace(
        admin=accounts[0], compliance=accounts[2], dest=accounts[6], attacker=accounts[7],
        depositor=accounts[8], warm=accounts[9])


@pytest.fixture
def vault(project: Any, w3: Any, who: SimpleNamespace) -> Any:
    """A fresh open vault (see :func:`deploy_vault`)."""
    return deploy_vault(project, w3, who)


@pytest.fixture
def ledger_url(tmp_path: Any) -> str:
    """A migrated SQLite ledger database."""
    url = fresh_url(tmp_path / 'ledger.db')
    upgrade(url)
    audit_upgrade(url)  # the follower writes an audit record per posting group
    chain_upgrade(url)  # and its unconfirmed-deposit sightings
    return url


@pytest.fixture
def ledger(ledger_url: str) -> Any:
    """A group-committing ledger on ``ledger_url``."""
    lg = Ledger(ledger_url)
    yield lg
    lg.close()


@pytest.fixture
def fund_usd(accounts: Any, chain: Any, usdc: Any, usdt: Any):
    """``fund_usd(address, amount)``: mint USDC and issue USDT to ``address``."""

    def _fund(address: str, amount: int) -> None:
        master = usdc.masterMinter()
        chain.provider.set_balance(master, 10**20)
        minter = accounts[1]
        usdc.configureMinter(minter.address, 10**18, sender=accounts[master])
        usdc.mint(address, amount, sender=minter)
        owner = usdt.owner()
        chain.provider.set_balance(owner, 10**20)
        usdt.issue(amount, sender=accounts[owner])
        usdt.transfer(address, amount, sender=accounts[owner])

    return _fund


@pytest.fixture
def db_url(database: Callable[[str], str]) -> str:
    """A migrated ledger database on SQLite and on PostgreSQL."""
    url = database("lease")
    upgrade(url)
    audit_upgrade(url)
    chain_upgrade(url)
    return url
