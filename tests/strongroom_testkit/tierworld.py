"""A deployed system (vault, warm and cold Multisigs as its tiers 1 and 2) with a keeper host
over a fresh SQLite database, for the tests of the tier mirror (chain follower and type 1).

``tier_world(accounts, chain, tmp_path)``: the system of :func:`scripts.deployments.deploy_system`
with ``accounts[0]`` holding the vault's TREASURY role (as the Timelock would grant it), a client
``c1`` registered under :data:`CLIENT_REF`, a :class:`~keeper.jobs.KeeperJobs` host (1
confirmation, no HSM) and fresh static prices. Multisig calls are signed by the test mnemonic's
owners (:func:`scripts.deployments.derived_signer`: cold 1-5, warm 6-8).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keeper.assets import by_symbol
from keeper.config import Settings
from keeper.deployments import Deployment
from keeper.jobs import JOBS, KeeperJobs
from keeper.roles import VaultRole
from scripts.deployments import deploy_system, derived_signer, exec_multisig, local_config
from strongroom_testkit.dbtemplate import fresh_url

CLIENT_REF = b"\x07" * 32
COLD_OWNERS, WARM_OWNERS = (1, 2, 3), (6, 7)  # a quorum of each


@dataclass
class TierWorld:
    """The deployed system, its keeper host and the actors of the tier tests."""

    system: Deployment
    vault: Any
    warm: str
    cold: str
    host: KeeperJobs
    w3: Any
    accounts: Any
    chain: Any

    def mine(self, n: int = 2) -> int:
        """Mine ``n`` blocks, then let the follower mirror what is confirmed."""
        self.w3.provider.make_request("anvil_mine", [hex(n)])
        return self.host.mirror()

    def book(self, location: str, asset: str) -> int:
        """The ledger's omnibus balance of ``asset`` at ``location`` (debits - credits)."""
        lg = self.host.ledger
        b = lg.balance(lg.omnibus_account(asset, location))
        return b.debits_posted - b.credits_posted

    def suspense(self, asset: str) -> int:
        """The ledger's suspense balance of ``asset``: credits - debits (negative: units that
        left our wallets unexplained)."""
        lg = self.host.ledger
        b = lg.balance(lg.suspense_account(asset))
        return b.credits_posted - b.debits_posted

    def on_chain(self, holder: str, asset: str) -> int:
        """``holder``'s balance of ``asset`` on the chain."""
        a = by_symbol(asset)
        if a.is_native:
            return int(self.w3.eth.get_balance(holder))
        data = "0x70a08231" + holder[2:].lower().rjust(64, "0")
        return int(self.w3.eth.call({"to": a.address, "data": data}).hex() or "0", 16)

    def safe_call(self, project: Any, safe: str, target: str, data: bytes = b"",
                  value: int = 0) -> Any:
        """Execute a SafeTx of the ``safe`` Multisig (warm or cold), signed by a quorum."""
        owners = COLD_OWNERS if safe == self.cold else WARM_OWNERS
        return exec_multisig(project.Multisig.at(safe), [derived_signer(i) for i in owners],
                             target, data, self.accounts[0], value=value)

    def safe_batch(self, project: Any, safe: str, calls: list[tuple[str, int, bytes]]) -> Any:
        """Execute ``calls`` ((to, wei, data) each) as one MultiSendCallOnly batch SafeTx of
        ``safe`` (DELEGATECALL, built by safe-eth-py), signed by a quorum."""
        from safe_eth.eth import EthereumClient
        from safe_eth.safe.multi_send import MultiSend, MultiSendOperation, MultiSendTx

        ms = MultiSend(EthereumClient(str(self.chain.provider.uri)), call_only=True)
        data = bytes(ms.build_tx_data([MultiSendTx(MultiSendOperation.CALL, to, value, d)
                                       for to, value, d in calls]))
        tx, sigs = self.signed(project, safe, ms.address, 0, data, 1)
        return project.Multisig.at(safe).execTransaction(
            tx.to, 0, data, 1, 0, 0, 0, tx.gas_token, tx.refund_receiver, sigs,
            sender=self.accounts[0])

    def signed(self, project: Any, safe: str, to: str, value: int, data: bytes,
               operation: int = 0) -> tuple[Any, bytes]:
        """A SafeTx of ``safe`` at its current nonce and a quorum's packed signatures."""
        from keeper.assets import ZERO_ADDRESS
        from keeper.keys import SafeTx, SoftwareSigner, safe_tx_hash, sign_hash

        tx = SafeTx(to, value, data, operation, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS,
                    project.Multisig.at(safe).call_view_method("nonce"))
        digest = safe_tx_hash(self.chain.chain_id, safe, tx)
        owners = sorted((derived_signer(i) for i in (COLD_OWNERS if safe == self.cold
                                                      else WARM_OWNERS)),
                        key=lambda a: int(a.address, 16))
        return tx, b"".join(sign_hash(SoftwareSigner(bytes(a.key)), digest) for a in owners)

    def fund(self, project: Any, who: Any, usdc: int) -> None:
        """Mint ``usdc`` base units of USDC to ``who``."""
        tok = project.FiatTokenV2.at(by_symbol("USDC").address)
        master = tok.masterMinter()
        self.chain.provider.set_balance(master, 10**20)
        tok.configureMinter(self.accounts[1].address, 10**18, sender=self.accounts[master])
        tok.mint(who.address, usdc, sender=self.accounts[1])


def tier_world(accounts: Any, chain: Any, tmp_path: Path) -> TierWorld:
    """Deploy the system and start its keeper host (see the module docstring)."""
    record = deploy_system(accounts[0], local_config(), path=tmp_path / "deployments" / "1.json")
    system = Deployment.from_json(record)
    from ape import project

    vault = project.Vault.at(system.address("vault"))
    timelock = system.address("timelock")
    chain.provider.set_balance(timelock, 10**20)
    vault.setRoles(accounts[0].address, VaultRole.CUSTOMER | VaultRole.TREASURY,
                   sender=accounts[timelock])
    url = fresh_url(tmp_path / 'keeper.db', migrated=True)
    (tmp_path / "prices.json").write_text(json.dumps({
        "as_of": datetime.now(UTC).isoformat(), "prices": {"ETH": 300_000, "BTC": 9_000_000}}))
    settings = Settings(data_dir=tmp_path, database_url=url, rpc_url=str(chain.provider.uri),
                        chain_id=chain.chain_id, confirmations=1,
                        deployments_dir=tmp_path / "deployments")
    host = KeeperJobs(settings, system, jobs=JOBS)
    host.ledger.register_client_ref(CLIENT_REF, "c1")
    return TierWorld(system, vault, system.address("warm_multisig"),
                     system.address("cold_multisig"), host, chain.provider.web3, accounts, chain)
