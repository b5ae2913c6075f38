"""Flows fixtures: every domain migrated into a fresh database (SQLite and PostgreSQL), the
local ATLAS as a real process, real compliance (rules file, address risk) and onboarded clients."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from keeper import clients
from keeper.audit.models import AuditRow
from keeper.chain import SenderConfig, TxSender, VaultWithdrawals
from keeper.compliance import ComplianceService, LabelledAddressRisk, RuleSet
from keeper.config import Settings
from keeper.flows import INVENTORY_CLIENT, ISSUANCE_KEY, TOKEN_KEYS, OrderService
from keeper.integrations.corebanking import AtlasClient, AtlasOpsClient
from keeper.keys import Keyring
from keeper.keys.hsm import ensure_local_token
from keeper.keys.secrets import Secret
from keeper.ledger import Ledger, TransferSpec, make_engine
from keeper.prices import StaticPrices
from keeper.recon import BreakBook, Reconciler
from keeper.roles import VaultRole
from scripts import deployments as dep
from strongroom_testkit.services import Atlas, Issuer, fork_minter_key, make_atlas, start_issuer

USDC = 10**6
MIXER = "0x" + "66" * 20


@dataclass
class Clock:
    """A clock the test moves (escalation deadlines), starting now."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    """One database, one ATLAS, one order service."""

    engine: Engine
    ledger: Ledger
    atlas: Atlas
    bank: AtlasClient
    ops: AtlasOpsClient
    compliance: ComplianceService
    settings: Settings
    clock: Clock
    make_service: Callable[..., OrderService]
    service: OrderService
    vault: str = "0x" + "ab" * 20

    def client(self, fiat_cents: int = 0, *, country: str | None = None,
               kyc: bool = True, **limits: Any) -> str:
        """An onboarded client (its ATLAS customer id is its client id) with ``fiat_cents``."""
        with Session(self.engine) as s:
            cid = clients.create_client(s, self.ledger, f"Corp {uuid.uuid4().hex[:6]}").id
        today = self.clock().date()
        clients.set_profile(self.engine, cid, actor="test", bank_customer_id=cid,
                            kyc_valid_until=today + timedelta(days=365) if kyc else None,
                            country=country, **limits)
        self.ops.create_customer(cid, "Corp")
        if fiat_cents:
            self.ops.wire_in(str(uuid.uuid4()), cid, fiat_cents, "funding")
        return cid

    def deposit(self, client_id: str, units: int, asset: str = "USDC") -> None:
        """Credit ``units`` as the chain follower credits a vault deposit."""
        self.ledger.post(TransferSpec(f"dep:{uuid.uuid4().hex}",
                                      self.ledger.omnibus_account(asset, f"vault:{self.vault}"),
                                      self.ledger.client_account(client_id, asset), units))

    def stock(self, units: int, asset: str = "USDC") -> None:
        """The bank's inventory receives ``units`` (a deposit carrying its own reference)."""
        self.deposit(INVENTORY_CLIENT, units, asset)

    def held(self, client_id: str, asset: str = "USDC") -> int:
        acc = self.ledger.find_client_account(client_id, asset)
        return 0 if acc is None else self.ledger.balance(acc).credit_balance

    def fiat(self, client_id: str) -> int:
        return self.bank.customer(client_id).balance_cents

    def audit_ops(self) -> list[str]:
        with self.engine.connect() as c:
            return [b for b in c.execute(select(AuditRow.body).order_by(AuditRow.seq)).scalars()]

    def type2(self) -> Any:
        rec = Reconciler(self.engine, BreakBook(self.engine, resolvers=["treasury"]),
                         StaticPrices({}, self.clock()))
        run = rec.run_type2(self.bank, run_key=f"t2-{uuid.uuid4().hex}", now=self.clock())
        return run, rec.book.breaks(run.id)

    def sound(self) -> None:
        """Ledger balanced and core banking consistent with the sub-ledger."""
        assert self.ledger.verify_invariants() == []
        run, breaks = self.type2()
        assert run.status == "PASS", [b.detail for b in breaks]


@pytest.fixture
def world(database: Callable[[str], str], tmp_path: Path) -> Iterator[World]:
    url = database("flows", migrated=True)
    engine = make_engine(url)
    ledger = Ledger(engine, group_commit=False)
    atlas = make_atlas(tmp_path / "atlas", "http://127.0.0.1:9")
    atlas.start()
    bank = AtlasClient(atlas.url, Secret(atlas.api_key))
    ops = AtlasOpsClient(atlas.url, Secret(atlas.ops_key))
    clock = Clock()
    compliance = ComplianceService(engine, RuleSet.load(),
                                   risk=LabelledAddressRisk({"mixer": [MIXER]}), clock=clock)
    settings = Settings()

    def make_service(**kw: Any) -> OrderService:
        return OrderService(engine, ledger, compliance=compliance, bank=bank,
                            issuer=kw.pop("issuer", None), prices=StaticPrices({}, clock.now),
                            settings=kw.pop("settings", settings), clock=clock, **kw)

    try:
        yield World(engine, ledger, atlas, bank, ops, compliance, settings, clock, make_service,
                    make_service())
    finally:
        bank.close()
        ops.close()
        atlas.stop()
        ledger.close()
        engine.dispose()


@pytest.fixture
def issuer_with(tmp_path: Path, rpc_url: str) -> Iterator[Callable[..., Issuer]]:
    """``issuer_with(*cli_args)`` starts the issuer (2 confirmations); stopped after the test."""
    started: list[Issuer] = []
    key = fork_minter_key(rpc_url, 10**9 * USDC)

    def _start(*extra: str) -> Issuer:
        started.append(start_issuer(tmp_path, rpc_url, key=key,
                                    extra=["--confirmations", "2", *extra]))
        return started[-1]

    yield _start
    for issuer in started:
        issuer.stop()


@pytest.fixture
def hot_hsm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data folder of a SoftHSM token made as set-up makes it (``ensure_local_token`` of
    it opens the same token again, e.g. in a worker process)."""
    if shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2-util not installed (apt softhsm2)")
    folder = tmp_path_factory.mktemp("hsm")
    ensure_local_token(folder, ec_keys=TOKEN_KEYS)
    return folder


@pytest.fixture
def hot_ring(hot_hsm: Path) -> Iterator[Keyring]:
    """The SoftHSM keys "eth-hot" (the vault's customer) and "eth-issuance" (where the issuer
    mints the bank's inventory; it only deposits into the vault)."""
    ring = Keyring.from_hsm(ensure_local_token(hot_hsm, ec_keys=TOKEN_KEYS),
                            labels=("eth-hot", ISSUANCE_KEY))
    yield ring
    ring.close()


def use_sender(world: World, w3: Any, ring: Keyring, config: SenderConfig,
               label: str = "eth-hot") -> None:
    """Withdrawals of ``world`` sent by a new :class:`TxSender` (``label``'s key, ``config``)
    whose alerts go to the ledger, as :func:`keeper.flows.vault_withdrawals` wires it."""
    sender = TxSender(world.engine.url.render_as_string(hide_password=False), w3, ring, label,
                      config, on_alert=world.ledger.raise_alert)
    world.payer = VaultWithdrawals(sender, world.vault_contract.address)  # type: ignore[attr-defined]
    world.service = world.make_service(sender=world.payer)


@pytest.fixture(scope="module")
def flows_vault(project: Any, accounts: Any, chain: Any, w3: Any, usdc: Any) -> tuple[Any, Any]:
    """A vault and its whitelist (dest and MIXER whitelisted and active, 1M USDC in the vault),
    deployed once per module: ape's isolation reverts what each test does to them."""
    admin, officer, dest = accounts[0], accounts[2], accounts[6]
    vault, wl = dep.deploy_open_vault(project, admin, officer)
    wl.add(dest.address, sender=officer)
    wl.add(MIXER, sender=officer)
    w3.provider.make_request("evm_increaseTime", [2])
    w3.provider.make_request("anvil_mine", ["0x1"])
    master = usdc.masterMinter()
    chain.provider.set_balance(master, 10**20)
    usdc.configureMinter(accounts[1].address, 10**18, sender=accounts[master])
    usdc.mint(vault.address, 1_000_000 * USDC, sender=accounts[1])
    return vault, wl


@pytest.fixture
def chain_world(world: World, flows_vault: tuple[Any, Any], accounts: Any, chain: Any, w3: Any,
                hot_ring: Keyring) -> World:
    """``world`` with a vault (dest whitelisted, 1M USDC) whose CUSTOMER is "eth-hot" and a
    withdrawal service sending from that key (fee ceiling 300 gwei, bump after 60 s);
    ``world.use_sender(config)`` switches to a sender with another fee policy."""
    admin, officer, dest = accounts[0], accounts[2], accounts[6]
    vault, wl = flows_vault
    hot = hot_ring.eth_address("eth-hot")
    vault.setRoles(hot, VaultRole.CUSTOMER, sender=admin)
    chain.provider.set_balance(hot, 10**21)
    world.vault = vault.address.lower()
    w: Any = world
    w.dest, w.vault_contract, w.admin = dest.address, vault, admin
    w.whitelist, w.officer = wl, officer
    w.use_sender = lambda config: use_sender(world, w3, hot_ring, config)
    w.use_sender(SenderConfig(max_fee_wei=300 * 10**9, bump_after_s=60))
    return world
