"""Staking keeper fixtures: one pool per module on the fork, one migrated SQLite database per
test (copied from a template migrated once), the SoftHSM "eth-staking" key sending through a
real TxSender, and the mirror."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from keeper.chain import SenderConfig, TxSender
from keeper.keys import Keyring
from keeper.ledger import Ledger, TransferSpec
from keeper.staking.book import Accounts
from keeper.staking.mirror import Mirror
from keeper.staking.service import StakingService
from strongroom_testkit.dbtemplate import backend
from strongroom_testkit.staking import PoolWorld, deploy_pool

KEY = "eth-staking"
GWEI = 10**9
ETHER = 10**18
MIGRATIONS = ("keeper.ledger.migrate", "keeper.chain.migrate", "keeper.staking.migrate")


@pytest.fixture(scope="session")
def staking_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data folder whose SoftHSM2 token holds the operator key (``<dir>/hsm``)."""
    return tmp_path_factory.mktemp("staking-data")


@pytest.fixture(scope="session")
def staking_ring(staking_data: Path) -> Iterator[Keyring]:
    """A SoftHSM2 token holding the operator key "eth-staking"."""
    if shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2-util not installed (apt softhsm2)")
    from keeper.keys.hsm import ensure_local_token
    ring = Keyring.from_hsm(ensure_local_token(staking_data, ec_keys=(KEY,)), labels=(KEY,))
    yield ring
    ring.close()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the ledger, chain and staking schemas, migrated once."""
    import importlib
    path = tmp_path_factory.mktemp("staking-template") / "template.db"
    for module in MIGRATIONS:
        importlib.import_module(module).SCHEMA.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="module")
def world(project: Any, accounts: Any) -> PoolWorld:
    return deploy_pool(project, accounts, reward_per_epoch=10**16 + 3)


@dataclass
class Keeper:
    """The keeper side of one test: ledger, sender, service, mirror."""

    ledger: Ledger
    sender: TxSender
    service: StakingService
    mirror: Mirror
    accounts: Accounts
    alerts: list[tuple[str, str, str | None]]
    url: str

    def fund_client(self, client_id: str, amount: int) -> None:
        """The client holds ``amount`` wei at the operator wallet (liquid ETH)."""
        self.ledger.post(TransferSpec(f"fund:{client_id}:{amount}", self.accounts.funding,
                                      self.accounts.liquid(client_id), amount))

    def alert_kinds(self) -> list[str]:
        return [k for k, _, _ in self.ledger.alerts()]


@pytest.fixture
def keeper(request: pytest.FixtureRequest, world: PoolWorld, template_db: Path, tmp_path: Path,
           staking_ring: Keyring, w3: Any, chain: Any) -> Iterator[Keeper]:
    """On SQLite (unless ``--db=postgresql``); a test parametrized indirectly with
    ``"postgresql"`` gets a new database in the session's PostgreSQL cluster instead."""
    if getattr(request, "param", backend()) == "postgresql":
        import importlib
        url = request.getfixturevalue("pg_cluster").create_database(
            f"staking_{tmp_path.name[-20:].lower()}")
        for module in MIGRATIONS:
            importlib.import_module(module).SCHEMA.upgrade(url)
    else:
        db = tmp_path / "keeper.db"
        shutil.copy(template_db, db)
        url = f"sqlite:///{db}"
    ledger = Ledger(url, group_commit=False)
    operator = staking_ring.eth_address(KEY)
    chain.provider.set_balance(operator, 10**22)
    alerts: list[tuple[str, str, str | None]] = []
    sender = TxSender(ledger.engine, w3, staking_ring, KEY,
                      SenderConfig(max_fee_wei=300 * GWEI, bump_after_s=60),
                      on_alert=lambda *a: alerts.append(a))
    pool = world.pool.address
    service = StakingService(ledger, sender, pool)
    mirror = Mirror(ledger, w3, pool, operator, start_block=world.block,
                    hashes=service.hashes)
    yield Keeper(ledger, sender, service, mirror, service.accounts, alerts, url)
    ledger.close()
