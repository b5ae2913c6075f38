"""Pooling HD deposit addresses into the Vault: approve + deposit under the reserved pooling
reference; the chain follower books every pooling deposit to the bank's own owner, credits no
client (not the clients the addresses were handed to), sends nothing to suspense, and the
vault's omnibus matches the chain."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from keeper.assets import USDC
from keeper.audit import upgrade as audit_upgrade
from keeper.chain import Follower, FollowerConfig
from keeper.chain.migrate import SCHEMA as CHAIN_SCHEMA
from keeper.keys.hd import AddressRegistry
from keeper.keys.hsm import HsmSeedWrapper, ensure_local_token
from keeper.ledger import Ledger
from keeper.ledger import upgrade as ledger_upgrade
from keeper.ledger.db import make_engine
from keeper.treasury.migrate import upgrade as treasury_upgrade
from keeper.treasury.pooling import (
    POOL_OWNER,
    DepositKeys,
    PoolCosts,
    PoolRunner,
    plan_pool,
    read_holdings,
    register_pool_ref,
)
from scripts.deployments import deploy_open_vault
from strongroom_testkit.anvil import mine
from strongroom_testkit.dbtemplate import fresh_url
from strongroom_testkit.treasury_pooling import deposit_wallet, fund_in_one_block

GWEI, ETHER, USD = 10**9, 10**18, 10**6
N = 6


@pytest.fixture(scope="module")
def hsm(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2-util not installed (apt softhsm2)")
    return ensure_local_token(tmp_path_factory.mktemp("pool-vault-hsm"))


def test_pooling_into_the_vault_credits_no_client(tmp_path, w3, project, accounts, hsm):
    vault, _ = deploy_open_vault(project, accounts[0], accounts[2])
    start = int(w3.eth.block_number)
    url = fresh_url(tmp_path / 'pool.db')
    for upgrade in (treasury_upgrade, audit_upgrade, CHAIN_SCHEMA.upgrade, ledger_upgrade):
        upgrade(url)
    engine = make_engine(url)
    registry = AddressRegistry(engine)
    registry.create_schema()
    wrapper = HsmSeedWrapper(hsm)
    addresses = deposit_wallet(registry, wrapper, "vault-deposits", N)
    fund_in_one_block(w3, [(a, ETHER // 10, 200 * USD) for a in addresses])
    ledger = Ledger(url)
    register_pool_ref(ledger)
    register_pool_ref(ledger)  # idempotent

    base = int(w3.eth.get_block("latest")["baseFeePerGas"])
    costs = PoolCosts(max_fee_wei=2 * base + 2 * GWEI, prices_cents={"ETH": 300_000, "USDC": 100},
                      native_gas=60_000, token_gas=120_000)
    plan = plan_pool(read_holdings(w3, addresses), vault.address, costs, vault=True)
    assert [p.kind for p in plan.moves].count("approve") == N
    keys = DepositKeys(registry, wrapper, wallet="vault-deposits", seed_name="vault-deposits-seed")
    runner = PoolRunner(engine, w3, keys)
    runner.start("into-vault", plan, costs)
    for _ in range(6):
        counts = runner.advance("into-vault")
        if set(counts) == {"mined"}:
            break
    assert counts == {"mined": 3 * N}, runner.transactions("into-vault")
    eth_in = sum(r["units"] for r in runner.transactions("into-vault") if r["kind"] == "native")
    assert int(w3.eth.get_balance(vault.address)) == eth_in
    assert read_holdings(w3, [vault.address], ("USDC",))[0].units == N * 200 * USD

    mine(w3, 2)  # the last deposit gets its confirmation
    follower = Follower(w3, ledger, FollowerConfig(vault=vault.address,
                                                   tokens={USDC.address: "USDC"},
                                                   confirmations=1, start_block=start))
    follower.run_until_synced()
    for i in range(N):  # the clients the deposit addresses were handed to: nothing credited
        assert ledger.find_client_account(f"client-{i}", "ETH") is None
        assert ledger.find_client_account(f"client-{i}", "USDC") is None
    pooled = {a: ledger.balance(ledger.client_account(POOL_OWNER, a)).credit_balance
              for a in ("ETH", "USDC")}
    assert pooled == {"ETH": eth_in, "USDC": N * 200 * USD}
    for asset in ("ETH", "USDC"):
        assert ledger.balance(ledger.suspense_account(asset)).credit_balance == 0
    kinds = {k for k, _, _ in ledger.alerts()}
    assert not kinds & {"unknown_client_ref", "balance_mismatch", "unattributed_transfer_in"}
    assert ledger.verify_invariants() == []
    follower.close()
    ledger.close()
    engine.dispose()
