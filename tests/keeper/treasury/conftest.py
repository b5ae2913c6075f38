"""Treasury fixtures: the deployed system on the fork whose operator is the SoftHSM "eth-hot" key
(deploy grants it CUSTOMER and SWEEPER, the least privilege of the daily sweep, see
keeper.treasury.tiers.sweeps; tests that sweep to warm by hand add TREASURY by a governance call),
a keeper over a fresh SQLite database with every schema migrated, prices, and helpers to deposit
and mine."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from keeper.config import Settings
from keeper.deployments import Deployment
from keeper.jobs import JOBS, KeeperJobs
from keeper.keys import Keyring
from keeper.keys.hsm import ensure_local_token
from keeper.roles import VaultRole
from scripts.deployments import deploy_system, local_config
from strongroom_testkit.dbtemplate import fresh_url

ETH_PRICE_CENTS = 300_000
CLIENT_REF = b"\x01" * 32


@dataclass
class TreasuryWorld:
    """The deployed system, its contracts, the keeper host and the HSM hot key."""

    system: Deployment
    vault: Any
    cold: str
    warm: str
    host: KeeperJobs
    ring: Keyring
    hot: str
    w3: Any
    settings: Settings

    def mine(self, n: int = 2) -> None:
        """Mine ``n`` blocks, then let the follower mirror what is confirmed."""
        self.w3.provider.make_request("anvil_mine", [hex(n)])
        self.host.mirror()

    def balance(self, holder: str, asset: str = "ETH") -> int:
        """``holder``'s on-chain balance of ``asset``."""
        from keeper.assets import by_symbol

        a = by_symbol(asset)
        if a.is_native:
            return int(self.w3.eth.get_balance(holder))
        data = "0x70a08231" + holder[2:].lower().rjust(64, "0")
        return int(self.w3.eth.call({"to": a.address, "data": data}).hex() or "0", 16)

    def hot_nonce(self) -> int:
        """Transactions the hot key has sent."""
        return int(self.w3.eth.get_transaction_count(self.hot))


@pytest.fixture(scope="session")
def treasury_hsm(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A SoftHSM2 token with the ``eth-hot`` key."""
    if shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2-util not installed (apt softhsm2)")
    return ensure_local_token(Path(tmp_path_factory.mktemp("hsm")), ec_keys=("eth-hot",))


def write_prices(path: Path) -> None:
    """Fresh static prices (ETH at USD 3,000)."""
    path.write_text(json.dumps({"as_of": datetime.now(UTC).isoformat(),
                                "prices": {"ETH": ETH_PRICE_CENTS, "BTC": 9_000_000}}))


@pytest.fixture
def make_world(accounts: Any, chain: Any, project: Any, tmp_path: Path, rpc_url: str,
               treasury_hsm: Any) -> Iterator[Callable[..., TreasuryWorld]]:
    """``make_world(treasury=True, sweeper=True, policy=None, dry_run=False, **config)``: deploy
    the system (``config`` overrides :func:`local_config`; the hot key is the operator, so it
    holds CUSTOMER | SWEEPER from deployment), then as the Timelock would: add TREASURY to the
    hot key if ``treasury`` (hand-made warm sweeps), revoke SWEEPER unless ``sweeper``; start a
    keeper host (1 confirmation). The daily sweep's tests pass ``treasury=False``."""
    opened: list[tuple[KeeperJobs, Keyring]] = []

    def make(treasury: bool = True, sweeper: bool = True, policy: Path | None = None,
             dry_run: bool = False, **config: Any) -> TreasuryWorld:
        ring = Keyring.from_hsm(treasury_hsm, labels=("eth-hot",))
        hot = ring.eth_address("eth-hot")
        record = deploy_system(accounts[0], local_config(operator=hot, **config),
                               path=tmp_path / "deployments" / "1.json")
        system = Deployment.from_json(record)
        vault = project.Vault.at(system.address("vault"))
        chain.provider.set_balance(hot, 10**20)
        deployed = VaultRole(vault.roles(hot))
        assert deployed == VaultRole.CUSTOMER | VaultRole.SWEEPER
        roles = deployed | VaultRole.TREASURY if treasury else deployed
        roles = roles if sweeper else roles & ~VaultRole.SWEEPER
        if roles != deployed:  # a governance change (Timelock setRoles)
            timelock = system.address("timelock")
            chain.provider.set_balance(timelock, 10**20)
            vault.setRoles(hot, int(roles), sender=accounts[timelock])
        url = fresh_url(tmp_path / 'keeper.db', migrated=True)
        write_prices(tmp_path / "prices.json")
        extra = {"treasury_policy_file": policy} if policy is not None else {}
        settings = Settings(data_dir=tmp_path, database_url=url, rpc_url=rpc_url,
                            chain_id=chain.chain_id, confirmations=1,
                            deployments_dir=tmp_path / "deployments",
                            treasury_dry_run=dry_run, **extra)
        host = KeeperJobs(settings, system, jobs=JOBS, hsm=treasury_hsm)
        opened.append((host, ring))
        return TreasuryWorld(system, vault, system.address("cold_multisig"),
                             system.address("warm_multisig"), host, ring, hot,
                             chain.provider.web3, settings)

    yield make
    for host, ring in opened:
        host.ledger.close()
        ring.close()


@pytest.fixture
def deposit(accounts: Any, chain: Any, project: Any) -> Callable[..., None]:
    """``deposit(world, eth_wei=0, usdc=0)``: a depositor pays ETH and/or freshly minted USDC
    into the vault (client ref 0x01..)."""
    from keeper.assets import USDC

    def _deposit(world: TreasuryWorld, eth_wei: int = 0, usdc: int = 0) -> None:
        who = accounts[8]
        if eth_wei:
            chain.provider.set_balance(who.address, eth_wei + 10**20)
            world.vault.depositEth(CLIENT_REF, value=eth_wei, sender=who)
        if usdc:
            tok = project.FiatTokenV2.at(USDC.address)
            master = tok.masterMinter()
            chain.provider.set_balance(master, 10**20)
            tok.configureMinter(accounts[1].address, 10**18, sender=accounts[master])
            tok.mint(who.address, usdc, sender=accounts[1])
            tok.approve(world.vault.address, usdc, sender=who)
            world.vault.deposit(USDC.address, usdc, CLIENT_REF, sender=who)

    return _deposit
