"""Fixtures of the safetx tests: our Multisig on the fork, owners with software keys, a migrated
database (SQLite and PostgreSQL), the service, and a SoftHSM keyring for the executor."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from keeper.keys import Keyring, SafeTx, SoftwareSigner, safe_tx_hash, sign_hash
from keeper.ledger import Ledger
from keeper.safetx import Proposal, SafeChain, SafeTxService
from strongroom_testkit import DAY, ZERO_ADDRESS


@dataclass(frozen=True)
class Owner:
    """An owner account of the test multisig and its software signer."""

    address: str
    signer: SoftwareSigner
    key: bytes

    def sign(self, digest: bytes) -> bytes:
        """65-byte r||s||v (27/28) over ``digest``."""
        return sign_hash(self.signer, digest)


def _owner(account: Any) -> Owner:
    key = bytes.fromhex(account.private_key[2:])
    assert Account.from_key(key).address == account.address
    return Owner(account.address, SoftwareSigner(key), key)


@pytest.fixture(scope="session")
def owners(accounts: Any) -> list[Owner]:
    """Three owners (ape test accounts 1-3, so they can also send transactions)."""
    return [_owner(accounts[i]) for i in (1, 2, 3)]


@pytest.fixture(scope="session")
def outsider(accounts: Any) -> Owner:
    """An account that owns nothing."""
    return _owner(accounts[9])


@pytest.fixture(scope="module")
def multisig(project: Any, accounts: Any, owners: list[Owner]) -> Any:
    """A 2-of-3 Multisig (recovery quorum 2 of accounts 6-8), funded with 5 ETH: deployed once per
    module; ape's isolation reverts what each test does to it (and everything else on chain)."""
    deployer = accounts[0]
    msig = deployer.deploy(project.Multisig, [o.address for o in owners], 2,
                           [accounts[i].address for i in (6, 7, 8)], 2, 30 * DAY)
    deployer.transfer(msig, 5 * 10**18)
    return msig


@pytest.fixture
def db_url(database: Any) -> str:
    """A database with every domain's schema migrated (SQLite, then PostgreSQL)."""
    url = database("safetx", migrated=True)
    return url


@pytest.fixture
def safe_chain(chain: Any) -> SafeChain:
    """The service's view of the fork."""
    return SafeChain(str(chain.provider.uri), chain.chain_id)


@pytest.fixture
def service(db_url: str, safe_chain: SafeChain, multisig: Any) -> SafeTxService:
    """The service over ``db_url`` with ``multisig`` registered."""
    from keeper.ledger import make_engine

    svc = SafeTxService(make_engine(db_url), safe_chain)
    svc.register_safe(multisig.address)
    return svc


@pytest.fixture
def ledger(db_url: str) -> Any:
    """The ledger the executor raises its alerts in."""
    lg = Ledger(db_url, group_commit=False)
    yield lg
    lg.close()


@pytest.fixture(scope="session")
def hsm_config(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A SoftHSM2 token with ``safe-signer``, made as set-up makes it."""
    if shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2-util not installed (apt softhsm2)")
    from keeper.keys.hsm import ensure_local_token

    return ensure_local_token(Path(tmp_path_factory.mktemp("hsm")), ec_keys=("safe-signer",))


@pytest.fixture(scope="session")
def keyring(hsm_config: Any) -> Any:
    """The HSM keyring with ``safe-signer``."""
    ring = Keyring.from_hsm(hsm_config, labels=("safe-signer",))
    yield ring
    ring.close()


def _transfer_tx(to: str, value: int, nonce: int, data: bytes = b"") -> SafeTx:
    """A plain CALL moving ``value`` wei (no refund, no gas token)."""
    return SafeTx(to, value, data, 0, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS, nonce)


def _proposal(chain_id: int, safe: str, tx: SafeTx, sender: Owner, *signers: Owner) -> Proposal:
    """A proposal of ``tx`` by ``sender`` carrying the signatures of ``signers`` (or the
    sender's own), as Safe tooling posts it."""
    digest = safe_tx_hash(chain_id, safe, tx)
    sigs = b"".join(s.sign(digest) for s in sorted(signers or (sender,),
                                                   key=lambda o: int(o.address, 16)))
    return Proposal(safe, tx, digest, sender.address, sigs, "tests")


@pytest.fixture(scope="session")
def transfer_tx() -> Callable[..., SafeTx]:
    """``transfer_tx(to, value, nonce)``: a plain CALL SafeTx."""
    return _transfer_tx


@pytest.fixture(scope="session")
def proposal() -> Callable[..., Proposal]:
    """``proposal(chain_id, safe, tx, sender, *signers)``: a signed proposal."""
    return _proposal
