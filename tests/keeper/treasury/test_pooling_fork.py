"""Pooling 120 HD deposit addresses (ETH + USDC) on the fork: everything worth moving reaches the
operational address, every minimum holds, dust stays (reported), gas top-ups come from the HSM
funding key, a restart (and a send whose bookkeeping was lost) sends nothing twice, and the
operational wallet count drops by >= 60 %."""

from __future__ import annotations

import io
import json
import shutil
from datetime import UTC, datetime
from typing import Any

import pytest
from eth_utils import to_checksum_address
from sqlalchemy import select

from keeper.assets import USDC
from keeper.audit import AuditTrail
from keeper.audit import upgrade as audit_upgrade
from keeper.chain import SenderConfig, TxSender, erc20_transfer
from keeper.chain.migrate import SCHEMA as CHAIN_SCHEMA
from keeper.keys import Keyring
from keeper.keys.hd import AddressRegistry
from keeper.keys.hsm import HsmSeedWrapper, ensure_local_token
from keeper.ledger.db import make_engine
from keeper.treasury.migrate import upgrade as treasury_upgrade
from keeper.treasury.pooling import PoolCosts, operational_wallets, plan_pool, reduction_bps
from keeper.treasury.pooling.executor import PoolRunner, read_holdings
from keeper.treasury.pooling.keys import DepositKeys
from keeper.treasury.pooling.models import PoolTx
from strongroom_testkit.dbtemplate import fresh_url
from strongroom_testkit.treasury_pooling import deposit_wallet, fund_in_one_block

GWEI, ETHER, USD = 10**9, 10**18, 10**6
N = 120
DEST = "0x00000000000000000000000000000000000c0FFe"


@pytest.fixture(scope="module")
def hsm(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2-util not installed (apt softhsm2)")
    return ensure_local_token(tmp_path_factory.mktemp("pool-hsm"))


def _layout(i: int) -> tuple[int, int, int, int]:
    """(wei, usdc units, ETH minimum, USDC minimum) of deposit address ``i``."""
    if i in (1, 5, 9):
        return 0, USD // 2, 0, 0  # half a dollar and no gas: not worth a top-up
    return [(ETHER // 20, 1_000 * USD, 0, 0),  # gas on hand
            (0, 500 * USD, 0, 0),  # no ETH: needs a top-up
            (ETHER // 5, 300 * USD, ETHER // 10, 100 * USD),  # minimums to keep
            (ETHER // 50, 0, 0, 0)][i % 4]


def test_pool_120_hd_deposit_addresses(tmp_path, w3, chain, hsm):
    url = fresh_url(tmp_path / 'pool.db')
    for upgrade in (treasury_upgrade, audit_upgrade, CHAIN_SCHEMA.upgrade):
        upgrade(url)
    engine = make_engine(url)
    registry = AddressRegistry(engine)
    registry.create_schema()
    wrapper = HsmSeedWrapper(hsm)
    addresses = deposit_wallet(registry, wrapper, "eth-deposits", N)
    fund_in_one_block(w3, [(a, *_layout(i)[:2]) for i, a in enumerate(addresses)])
    funding = Keyring.from_hsm(hsm, labels=("eth-hot",))
    chain.provider.set_balance(funding.eth_address("eth-hot"), 10 * ETHER)
    minimums = {}
    for i, a in enumerate(addresses):
        _, _, eth_min, usdc_min = _layout(i)
        minimums[(a, "ETH")], minimums[(a, "USDC")] = eth_min, usdc_min

    base = int(w3.eth.get_block("latest")["baseFeePerGas"])
    costs = PoolCosts(max_fee_wei=2 * base + 2 * GWEI, prices_cents={"ETH": 300_000, "USDC": 100})
    before = read_holdings(w3, addresses, minimums=minimums)
    plan = plan_pool(before, DEST, costs, funding=funding.eth_address("eth-hot"))
    assert {(s.wallet, s.asset) for s in plan.skipped} == {
        (addresses[i], "USDC") for i in (1, 5, 9)}
    assert sum(p.kind == "topup" for p in plan.moves) == 30 - 3

    keys = DepositKeys(registry, wrapper, wallet="eth-deposits", seed_name="eth-deposits-seed")
    assert "secret" not in repr(keys) and keys.addresses == addresses
    runner = PoolRunner(engine, w3, keys, funding=funding, funding_label="eth-hot")
    assert runner.start("run-1", plan, costs) is True
    runner.advance("run-1")  # top-ups (and what needs none) sent

    # a crash: one wallet's transfer went out, the bookkeeping did not; then a restart
    with engine.connect() as conn:
        lost = conn.execute(select(PoolTx.__table__).where(
            PoolTx.kind == "token", PoolTx.state == "planned")).first()
    assert lost is not None
    TxSender(engine, w3, keys.keyring(lost.sender), lost.sender.lower(), SenderConfig(
        max_fee_wei=costs.max_fee_wei, bump_after_s=600, min_tip_wei=GWEI)).send(
        lost.intent_id, USDC.address, _transfer(lost.recipient, int(lost.units)), gas=costs.token_gas)
    runner = PoolRunner(engine, w3, keys, funding=funding, funding_label="eth-hot")
    assert runner.start("run-1", plan, costs) is False  # never re-planned
    for _ in range(6):
        counts = runner.advance("run-1")
        if set(counts) == {"mined"}:
            break
    assert counts == {"mined": len(plan.moves)}

    # exactly one transaction per planned (wallet, asset): nonces tell
    per_sender: dict[str, int] = {}
    for row in runner.transactions("run-1"):
        sender = funding.eth_address("eth-hot") if row["kind"] == "topup" else row["wallet"]
        per_sender[sender.lower()] = per_sender.get(sender.lower(), 0) + 1
    for sender, n in per_sender.items():
        assert w3.eth.get_transaction_count(w3.to_checksum_address(sender)) == n, sender

    after = read_holdings(w3, addresses, minimums=minimums)
    for h in after:
        assert h.units >= h.minimum_units, h
    held = {(h.wallet, h.asset): h.units for h in after}
    for i in (1, 5, 9):
        assert held[(addresses[i], "USDC")] == USD // 2  # dust left, as reported
    dest = read_holdings(w3, [DEST])
    moved_usdc = sum(h.units - h.minimum_units for h in before if h.asset == "USDC"
                     and h.wallet not in {addresses[i] for i in (1, 5, 9)})
    sent_eth = sum(r["units"] for r in runner.transactions("run-1") if r["kind"] == "native")
    assert sent_eth >= plan.totals["ETH"]  # fixed at send time: the unspent token gas went too
    assert {h.asset: h.units for h in dest} == {"ETH": sent_eth, "USDC": moved_usdc}

    ops_before = operational_wallets(before, DEST, costs, funding=funding.eth_address("eth-hot"))
    ops_after = operational_wallets(after, DEST, costs, funding=funding.eth_address("eth-hot"))
    assert ops_after == {DEST}
    assert len(ops_before) == N - 3 + 1
    assert reduction_bps(len(ops_before), len(ops_after)) >= 6_000
    # the run measured the same on the chain and audited it when it finished
    assert runner.measure("run-1") == {"wallets_before": len(ops_before), "wallets_after": 1,
                                       "reduction_bps": reduction_bps(len(ops_before), 1)}
    out = io.StringIO()
    AuditTrail(engine).export(out)
    done = [json.loads(line)["record"] for line in out.getvalue().splitlines()
            if '"treasury.pooling.done"' in line]
    assert len(done) == 1 and done[0]["result"]["reduction_bps"] >= 6_000
    assert done[0]["result"]["mined"] == len(plan.moves)
    print(f"pooling: {N} HD addresses, {len(plan.moves)} transactions, {len(ops_before)} -> "
          f"{len(ops_after)} operational wallets "
          f"({reduction_bps(len(ops_before), len(ops_after)) / 100:.2f}% fewer)")
    runner.close()
    funding.close()
    engine.dispose()


def _transfer(to: str, units: int) -> bytes:
    return erc20_transfer(to_checksum_address(to), units)


def test_the_job_advances_open_runs_and_sends_nothing_in_dry_run(tmp_path, w3, rpc_url, hsm):
    from types import SimpleNamespace

    from keeper.config import Settings
    from keeper.jobs.catalog import JOBS
    from keeper.jobs.scheduler import JobRun
    from keeper.treasury.pooling.jobs import advance

    assert any(j.func == "keeper.treasury.pooling.jobs:advance" for j in JOBS)
    url = fresh_url(tmp_path / 'job.db')
    for upgrade in (treasury_upgrade, audit_upgrade, CHAIN_SCHEMA.upgrade):
        upgrade(url)
    engine = make_engine(url)
    registry = AddressRegistry(engine)
    registry.create_schema()
    wrapper = HsmSeedWrapper(hsm)
    addresses = deposit_wallet(registry, wrapper, "job-deposits", 4)
    fund_in_one_block(w3, [(a, ETHER // 20, 100 * USD) for a in addresses])
    base = int(w3.eth.get_block("latest")["baseFeePerGas"])
    costs = PoolCosts(max_fee_wei=2 * base + 2 * GWEI, prices_cents={"ETH": 300_000, "USDC": 100})
    plan = plan_pool(read_holdings(w3, addresses), DEST, costs)
    keys = DepositKeys(registry, wrapper, wallet="job-deposits", seed_name="job-deposits-seed")
    # a dry run is planned, recorded and audited; no job ever sends it
    assert PoolRunner(engine, w3, keys, dry_run=True).start("dry", plan, costs)
    PoolRunner(engine, w3, keys).start("live", plan, costs)

    def tick(dry: bool) -> int:
        settings = Settings(data_dir=tmp_path, database_url=url, rpc_url=rpc_url,
                            confirmations=1, treasury_dry_run=dry)
        host = SimpleNamespace(settings=settings, hsm=hsm, ledger=SimpleNamespace(engine=engine))
        return advance(JobRun(host, "treasury_pooling", datetime.now(UTC)))

    assert tick(dry=True) == 1  # the live run only; the dry-run setting holds it back
    assert all(w3.eth.get_transaction_count(w3.to_checksum_address(a)) == 0 for a in addresses)
    for _ in range(5):
        if tick(dry=False) == 0:
            break
    runner = PoolRunner(engine, w3, keys)
    assert {r["state"] for r in runner.transactions("live")} == {"mined"}
    assert {r["state"] for r in runner.transactions("dry")} == {"planned"}
    assert read_holdings(w3, [DEST])[1].units >= 4 * 100 * USD
    out = io.StringIO()
    AuditTrail(engine).export(out)
    ops = [json.loads(line)["record"]["operation"] for line in out.getvalue().splitlines()]
    assert ops.count("treasury.pooling.plan") == 2 and ops.count("treasury.pooling.done") == 1
    assert "treasury.pooling.advance" in ops
    engine.dispose()


def test_a_blacklisted_wallet_fails_its_token_move_without_sending_it(tmp_path, w3, chain, hsm):
    """USDC's issuer blacklisted two deposit addresses after the plan: their transfers would
    revert. Nothing is sent for them (no gas burnt on a known revert, no top-up to a wallet that
    cannot use it), the rows fail with the reason, the ETH is still pooled, and every other
    wallet completes."""
    url = fresh_url(tmp_path / 'bl.db')
    for upgrade in (treasury_upgrade, audit_upgrade, CHAIN_SCHEMA.upgrade):
        upgrade(url)
    engine = make_engine(url)
    registry = AddressRegistry(engine)
    registry.create_schema()
    wrapper = HsmSeedWrapper(hsm)
    addresses = deposit_wallet(registry, wrapper, "bl-deposits", 4)
    fund_in_one_block(w3, [(a, 0 if i == 3 else ETHER // 20, 100 * USD)
                           for i, a in enumerate(addresses)])
    funding = Keyring.from_hsm(hsm, labels=("eth-hot",))
    fund_address = funding.eth_address("eth-hot")
    chain.provider.set_balance(fund_address, ETHER)
    nonce_before = w3.eth.get_transaction_count(fund_address)
    base = int(w3.eth.get_block("latest")["baseFeePerGas"])
    costs = PoolCosts(max_fee_wei=2 * base + 2 * GWEI, prices_cents={"ETH": 300_000, "USDC": 100})
    plan = plan_pool(read_holdings(w3, addresses), DEST, costs, funding=fund_address)
    assert [p.kind for p in plan.moves].count("topup") == 1
    blacklister = "0x" + w3.eth.call({"to": USDC.address, "data": "0xbd102430"})[-20:].hex()
    w3.provider.make_request("anvil_impersonateAccount", [blacklister])
    w3.provider.make_request("anvil_setBalance", [blacklister, hex(ETHER)])
    for bad in (addresses[1], addresses[3]):
        w3.eth.send_transaction({"from": w3.to_checksum_address(blacklister), "to": USDC.address,
                                 "data": "0xf9f92be4" + "00" * 12 + bad[2:]})
    keys = DepositKeys(registry, wrapper, wallet="bl-deposits", seed_name="bl-deposits-seed")
    runner = PoolRunner(engine, w3, keys, funding=funding, funding_label="eth-hot")
    runner.start("bl", plan, costs)
    for _ in range(6):
        counts = runner.advance("bl")
        if set(counts) <= {"mined", "failed"}:
            break
    rows = {(r["wallet"], r["kind"]): r for r in runner.transactions("bl")}
    bad = rows[(addresses[1], "token")]
    assert bad["state"] == "failed" and "would revert" in bad["reason"] and bad["tx_hash"] is None
    assert rows[(addresses[1], "native")]["state"] == "mined"
    topup = rows[(addresses[3], "topup")]
    assert topup["state"] == "failed" and "the USDC token it pays for" in topup["reason"]
    assert rows[(addresses[3], "token")]["reason"] == "its gas top-up failed"
    assert counts == {"mined": 5, "failed": 3}
    assert w3.eth.get_transaction_count(w3.to_checksum_address(addresses[1])) == 1  # ETH only
    assert w3.eth.get_transaction_count(fund_address) == nonce_before  # no top-up sent
    funding.close()
    engine.dispose()


def test_cli_plans_and_starts_a_dry_run(tmp_path, w3, rpc_url, monkeypatch, capsys):
    from keeper.treasury.pooling.__main__ import main

    if shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2-util not installed (apt softhsm2)")
    url = fresh_url(tmp_path / 'cli.db')
    for upgrade in (treasury_upgrade, audit_upgrade):
        upgrade(url)
    engine = make_engine(url)
    registry = AddressRegistry(engine)
    registry.create_schema()
    hsm = ensure_local_token(tmp_path)  # the keeper's token under the data folder
    addresses = deposit_wallet(registry, HsmSeedWrapper(hsm), "cli-deposits", 3)
    fund_in_one_block(w3, [(a, 0, 100 * USD) for a in addresses])
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"as_of": datetime.now(UTC).isoformat(),
                                  "prices": {"ETH": 300_000, "BTC": 9_000_000}}))
    for k, v in {"STRONGROOM_DB_URL": url, "STRONGROOM_DATA": str(tmp_path),
                 "STRONGROOM_RPC_URL": rpc_url, "STRONGROOM_PRICES_FILE": str(prices),
                 "STRONGROOM_TREASURY_DRY_RUN": "true"}.items():
        monkeypatch.setenv(k, v)
    common = ["--hd-wallet", "cli-deposits", "--destination", DEST, "--funding-label", "eth-hot"]
    assert main(["plan", *common]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert (plan["topups"], plan["pooled"]["USDC"], plan["reduction_bps"]) == (3, str(300 * USD),
                                                                               7500)
    assert main(["start", "cli-1", "--seed-name", "cli-deposits-seed", *common]) == 0
    started = json.loads(capsys.readouterr().out)
    assert started["recorded"] is True and started["dry_run"] is True
    assert main(["status", "cli-1"]) == 0
    assert {r["state"] for r in json.loads(capsys.readouterr().out)} == {"planned"}
    assert all(w3.eth.get_transaction_count(w3.to_checksum_address(a)) == 0 for a in addresses)
    assert main(["plan", "--hd-wallet", "nobody", "--destination", DEST]) == 2
    engine.dispose()
