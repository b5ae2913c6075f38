"""The rebalancing job on the fork, over the real tier view: deposits pile into the vault, the
job plans from the chain's figures, refuses ETH (the hot float of 10 ETH cannot fit a 5.5 % tier
of 100 ETH) with an alert naming the constraint, plans USDC's moves out of hot, records and
audits them; in dry run nothing moves, otherwise the Vault sweeps them to the warm and cold
Multisigs through the HSM key and the tier view agrees; a rerun of the slot sends nothing new."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from keeper.audit.models import AuditRow
from keeper.jobs.scheduler import JobRun
from keeper.treasury.rebalance import REFUSED_ALERT
from keeper.treasury.rebalance.__main__ import main
from keeper.treasury.rebalance.jobs import rebalancer_for, treasury_rebalance

pytestmark = pytest.mark.fork
ETH = 10**18
USDC = 10**6
SLOT = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def test_dry_run_plans_from_the_tier_view_refuses_eth_and_records_usdc(make_world, deposit,
                                                                        monkeypatch, capsys):
    world = make_world(dry_run=True)
    deposit(world, eth_wei=100 * ETH, usdc=1_000_000 * USDC)
    world.mine()
    for var, value in {"STRONGROOM_DB_URL": world.settings.database_url,
                       "STRONGROOM_RPC_URL": world.settings.rpc_url,
                       "STRONGROOM_CHAIN_ID": str(world.settings.chain_id),
                       "STRONGROOM_DATA": str(world.settings.data_dir),
                       "STRONGROOM_DEPLOYMENTS_DIR": str(world.settings.deployments_dir)}.items():
        monkeypatch.setenv(var, value)
    assert main(["plan"]) == 0  # the operator's preview: records nothing
    preview = {d["asset"]: d for d in json.loads(capsys.readouterr().out)["decisions"]}
    assert rebalancer_for(world.host).last_decisions() == {}
    run = JobRun(world.host, "treasury_rebalance", SLOT)
    assert treasury_rebalance(run) == 2
    assert treasury_rebalance(run) == 2  # the slot's run key: nothing planned twice

    decisions = rebalancer_for(world.host).last_decisions()
    eth, usdc = decisions["ETH"], decisions["USDC"]
    assert eth["action"] == "refused" and eth["moves"] == []
    binding = eth["binding"]
    assert (binding["kind"], binding["tier"], binding["wallet"]) == ("wallet_minimum", "hot",
                                                                     "vault")
    assert int(binding["available_units"]) == 90 * ETH < int(binding["required_units"])
    refused = [(m, ref) for k, m, ref in world.host.ledger.alerts() if k == REFUSED_ALERT]
    assert len(refused) == 1 and refused[0][1] == "2026-11-23:ETH"  # once, not once per rerun
    assert "wallet_minimum" in refused[0][0] and "vault" in refused[0][0]

    assert usdc["action"] == "rebalance" and usdc["drift_before"]["hot"] == 9_500
    moves = {(m["destination"], m["destination_tier"]): int(m["units"]) for m in usdc["moves"]}
    assert set(moves) == {("warm_multisig", "warm"), ("cold_multisig", "cold")}
    assert all(m["source"] == "vault" and not m["requires_quorum"] for m in usdc["moves"])
    left = 1_000_000 * USDC - sum(moves.values())
    assert 450 <= left * 10_000 // (1_000_000 * USDC) <= 550  # hot back within 5 % +- 0.5 %
    assert usdc["dry_run"] is True
    assert preview["USDC"]["moves"] == usdc["moves"] and preview["ETH"]["binding"] == binding

    # nothing moved: the vault still holds everything
    assert world.balance(world.vault.address) == 100 * ETH
    assert world.balance(world.vault.address, "USDC") == 1_000_000 * USDC
    with world.host.ledger.engine.connect() as conn:
        ops = [json.loads(b)["record"] for b in conn.execute(select(AuditRow.body)).scalars()]
    planned = [r for r in ops if r["operation"] == "treasury.rebalance.planned"]
    assert len(planned) == 1 and planned[0]["params"]["executor"] is None


def test_job_sweeps_usdc_out_of_hot_once_and_the_tier_view_lands_within_band(make_world,
                                                                          deposit):
    world = make_world()
    deposit(world, eth_wei=100 * ETH, usdc=1_000_000 * USDC)
    world.mine()
    nonce = world.hot_nonce()
    run = JobRun(world.host, "treasury_rebalance", SLOT)
    assert treasury_rebalance(run) == 2
    world.mine()
    usdc = rebalancer_for(world.host).last_decisions()["USDC"]
    to = {m["destination"]: int(m["units"]) for m in usdc["moves"]}
    assert world.hot_nonce() == nonce + 2  # two Vault sweeps from the HSM key
    assert world.balance(world.warm, "USDC") == to["warm_multisig"]
    assert world.balance(world.cold, "USDC") == to["cold_multisig"]
    assert world.balance(world.vault.address, "USDC") == 1_000_000 * USDC - sum(to.values())
    assert world.balance(world.vault.address) == 100 * ETH  # ETH refused: nothing moved

    assert treasury_rebalance(run) == 2  # a restart of the slot: same moves, nothing sent
    world.mine()
    assert world.hot_nonce() == nonce + 2
    from keeper.treasury.tiers import current_view

    _, view = current_view(world.host)
    assert view.assets["USDC"].out_of_band() == [] and view.mismatches == []
    assert all(abs(d) <= 50 for d in view.assets["USDC"].drift_bps.values())
    with world.host.ledger.engine.connect() as conn:
        ops = [json.loads(b)["record"] for b in conn.execute(select(AuditRow.body)).scalars()]
    sent = [r for r in ops if r["operation"] == "treasury.rebalance.sent"]
    assert len(sent) == 2 and all(r["result"]["reference"].startswith("0x") for r in sent)


def test_a_move_out_of_cold_is_only_proposed_for_the_cold_owners(make_world, deposit, accounts):
    from keeper.assets import USDC as USDC_ASSET
    from keeper.treasury.tiers import SweepBook

    world = make_world()
    deposit(world, usdc=1_000_000 * USDC)
    hot = accounts[world.hot]  # the HSM key's address, impersonated: the treasury's own sweeps
    world.vault.sweep(USDC_ASSET.address, 150_000 * USDC, 1, sender=hot)
    world.vault.sweep(USDC_ASSET.address, 850_000 * USDC, 2, sender=hot)
    world.mine()
    nonce = world.hot_nonce()
    assert treasury_rebalance(JobRun(world.host, "treasury_rebalance", SLOT)) == 1
    world.mine()
    (move,) = rebalancer_for(world.host).last_decisions()["USDC"]["moves"]
    assert (move["source"], move["destination"], int(move["units"])) == (
        "cold_multisig", "vault", 45_000 * USDC)  # hot back to 4.5 %, cold to 80.5 %
    assert move["requires_quorum"]
    row = SweepBook(world.host.ledger.engine).get("rebalance:2026-11-23:USDC:0")
    assert row is not None and row.status == "proposed" and row.reference
    (recorded,) = rebalancer_for(world.host).run("2026-11-23").moves  # read back, nothing new
    assert (recorded.status, recorded.reference) == ("proposed", row.reference)
    assert world.hot_nonce() == nonce  # the keeper sent nothing: the cold owners must sign
    assert world.balance(world.cold, "USDC") == 850_000 * USDC


def test_a_stale_price_does_not_stop_the_job_fees_count_as_zero(make_world, deposit):
    from datetime import timedelta

    world = make_world(dry_run=True)
    prices = world.settings.data_dir / "prices.json"
    stale = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    prices.write_text(json.dumps({"as_of": stale, "prices": {"ETH": 300_000, "BTC": 9_000_000}}))
    deposit(world, usdc=1_000_000 * USDC)
    world.mine()
    assert treasury_rebalance(JobRun(world.host, "treasury_rebalance", SLOT)) == 2
    usdc = rebalancer_for(world.host).last_decisions()["USDC"]
    assert usdc["action"] == "rebalance" and usdc["cost_cents"] == "0"


def test_an_empty_warm_tier_is_filled_by_a_cold_owners_proposal(make_world, deposit, accounts):
    from keeper.assets import USDC as USDC_ASSET
    from keeper.treasury.tiers import SweepBook

    world = make_world()
    deposit(world, usdc=1_000_000 * USDC)
    # the daily sweep's outcome: hot at its 5 % float, everything else cold, warm empty
    world.vault.sweep(USDC_ASSET.address, 950_000 * USDC, 2, sender=accounts[world.hot])
    world.mine()
    nonce = world.hot_nonce()
    assert treasury_rebalance(JobRun(world.host, "treasury_rebalance", SLOT)) == 1
    (move,) = rebalancer_for(world.host).last_decisions()["USDC"]["moves"]
    assert (move["source"], move["destination"], int(move["units"])) == (
        "cold_multisig", "warm_multisig", 145_000 * USDC)  # warm to 14.5 %, cold to 80.5 %
    row = SweepBook(world.host.ledger.engine).get("rebalance:2026-11-23:USDC:0")
    assert row is not None and row.status == "proposed" and row.payload is not None
    assert row.payload["safe"] == world.cold  # a SafeTx of the cold Multisig: its owners sign
    assert world.hot_nonce() == nonce and world.balance(world.warm, "USDC") == 0
