"""Tiers on the fork: deposits pile into the vault, the daily sweep moves the excess to the cold
Multisig through the HSM key (holding only the deployed CUSTOMER | SWEEPER roles, no TREASURY),
and the tier view, the ledger (follower) and type 1 reconciliation agree with the chain; a rerun
or a crash/restart never sweeps twice; dry run moves nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from keeper.assets import ETH_ADDRESS
from keeper.audit.models import AuditRow
from keeper.chain import SenderConfig, TxSender
from keeper.jobs.scheduler import JobRun
from keeper.ledger import ledger_totals
from keeper.prices import StaticPrices
from keeper.recon import Reconciler
from keeper.recon.jobs import break_book
from keeper.roles import VaultRole
from keeper.treasury.moves import Move
from keeper.treasury.tiers import (
    HotSweeper,
    SweepBook,
    SweepStatus,
    current_view,
    load_policy,
    sweep_data,
)
from keeper.treasury.tiers.jobs import treasury_sweep_daily

pytestmark = pytest.mark.fork
ETH = 10**18
USDC = 10**6
SLOT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
DAY = SLOT.date()


def run_daily(world: Any, slot: datetime = SLOT) -> int:
    return treasury_sweep_daily(JobRun(world.host, "treasury_sweep_daily", slot))


def sweeper(world: Any, dry_run: bool = False) -> HotSweeper:
    sender = TxSender(world.host.ledger.engine, world.w3, world.ring, "eth-hot",
                      SenderConfig(max_fee_wei=300 * 10**9, bump_after_s=60),
                      on_alert=world.host.ledger.raise_alert)
    return HotSweeper(SweepBook(world.host.ledger.engine), sender, world.vault.address,
                      alert=world.host.ledger.raise_alert, dry_run=dry_run)


def type1(world: Any, key: str) -> Any:
    host = world.host
    rec = Reconciler(host.ledger.engine, break_book(host), StaticPrices.from_settings(host.settings))
    locations = [f"vault:{world.vault.address.lower()}", f"tier2:{world.cold.lower()}"]
    run = rec.run_type1(host.follower.reader, run_key=key, locations=locations)
    return run, rec.book.breaks(run.id)


def test_daily_sweep_moves_the_excess_to_cold_and_everything_agrees(make_world, deposit) -> None:
    world = make_world(treasury=False)
    # least privilege (issue 14): the hot key holds only what deployment gave it
    assert world.vault.roles(world.hot) == VaultRole.CUSTOMER | VaultRole.SWEEPER
    deposit(world, eth_wei=100 * ETH, usdc=1_000_000 * USDC)
    world.mine()
    _, before = current_view(world.host)
    assert before.assets["ETH"].share_bps["hot"] == 10_000
    assert before.assets["ETH"].out_of_band() == ["hot", "warm", "cold"]

    assert run_daily(world) == 2
    world.mine()

    # ETH keeps max(5 % of 100, the 10 ETH float); USDC keeps max(5 % of 1M, 50,000 float)
    assert world.balance(world.vault.address) == 10 * ETH
    assert world.balance(world.cold) == 90 * ETH
    assert world.balance(world.vault.address, "USDC") == 50_000 * USDC
    assert world.balance(world.cold, "USDC") == 950_000 * USDC
    _, view = current_view(world.host)
    assert view.mismatches == []
    assert view.units("ETH", "hot") == 10 * ETH and view.units("ETH", "cold") == 90 * ETH
    assert view.assets["ETH"].share_bps == {"hot": 1000, "warm": 0, "cold": 9000}
    assert view.tier_value_cents["cold"] == 90 * 300_000 + 950_000 * 100
    omnibus = ledger_totals(world.host.ledger.engine).assets["ETH"].omnibus
    assert omnibus[f"tier2:{world.cold.lower()}"] == 90 * ETH
    assert omnibus[f"vault:{world.vault.address.lower()}"] == 10 * ETH
    run, breaks = type1(world, "t1-after-sweep")
    assert run.status == "PASS", [b.detail for b in breaks]

    # the same day again: nothing new is sent
    nonce = world.hot_nonce()
    deposit(world, eth_wei=50 * ETH)
    world.mine()
    run_daily(world)
    world.mine()
    assert world.hot_nonce() == nonce
    assert world.balance(world.vault.address) == 60 * ETH
    rows = SweepBook(world.host.ledger.engine).rows("daily")
    assert [(r.key, r.status) for r in rows] == [
        (f"daily:{DAY}:ETH", SweepStatus.SENT), (f"daily:{DAY}:USDC", SweepStatus.SENT)]


def test_restart_after_a_crash_finishes_the_recorded_sweep_once(make_world, deposit) -> None:
    world = make_world(treasury=False)
    deposit(world, eth_wei=100 * ETH)
    world.mine()
    sw = sweeper(world)
    # crash 1: the amount was fixed (90 ETH) but nothing was sent
    sw.book.plan(sw.key(DAY, "ETH"), "daily",
                 Move("ETH", "vault", "hot", "cold_multisig", "cold", 90 * ETH, "test"),
                 SweepStatus.PLANNED)
    deposit(world, eth_wei=100 * ETH)  # the balance changed before the restart
    world.mine()
    nonce = world.hot_nonce()
    [out] = sweeper(world).run(current_view(world.host)[1], load_policy(), DAY)
    world.mine()
    assert out.status == SweepStatus.SENT and out.units == 90 * ETH
    assert world.hot_nonce() == nonce + 1
    assert world.balance(world.cold) == 90 * ETH

    # crash 2 (next day): the sender stored and broadcast the sweep, the book never heard back
    day2 = DAY.replace(day=DAY.day + 1)
    sw2 = sweeper(world)
    sw2.book.plan(sw2.key(day2, "ETH"), "daily",
                  Move("ETH", "vault", "hot", "cold_multisig", "cold", 5 * ETH, "test"),
                  SweepStatus.PLANNED)
    sw2.sender.send(sw2.intent_id(day2, "ETH"), world.vault.address, sweep_data("ETH", 5 * ETH))
    world.mine()
    nonce = world.hot_nonce()
    [out] = sweeper(world).run(current_view(world.host)[1], load_policy(), day2)
    world.mine()
    assert out.status == SweepStatus.SENT and out.units == 5 * ETH
    assert world.hot_nonce() == nonce  # re-broadcast of the stored bytes at most, no new send
    assert world.balance(world.cold) == 95 * ETH
    assert current_view(world.host)[1].mismatches == []


def test_dry_run_records_the_plan_and_moves_nothing(make_world, deposit) -> None:
    world = make_world(treasury=False, dry_run=True)
    deposit(world, eth_wei=100 * ETH)
    world.mine()
    nonce = world.hot_nonce()
    assert run_daily(world) == 1
    world.mine()
    assert world.hot_nonce() == nonce
    assert world.balance(world.vault.address) == 100 * ETH and world.balance(world.cold) == 0
    [row] = SweepBook(world.host.ledger.engine).rows("daily")
    assert (row.asset, row.units, row.status) == ("ETH", 90 * ETH, SweepStatus.DRY_RUN)
    with world.host.ledger.engine.connect() as conn:
        bodies = list(conn.execute(select(AuditRow.body)).scalars())
    assert any("treasury.daily.dry_run" in b and str(90 * ETH) in b for b in bodies)


def test_the_cli_prints_the_tier_view_as_json(make_world, deposit, monkeypatch, capsys) -> None:
    from keeper.treasury.tiers.__main__ import main

    world = make_world(treasury=False)
    deposit(world, eth_wei=100 * ETH)
    world.mine()
    run_daily(world)
    world.mine()
    s = world.settings
    for var, value in (("STRONGROOM_DATA", s.data_dir), ("STRONGROOM_DB_URL", s.database_url),
                       ("STRONGROOM_RPC_URL", s.rpc_url), ("STRONGROOM_CHAIN_ID", s.chain_id),
                       ("STRONGROOM_DEPLOYMENTS_DIR", s.deployments_dir)):
        monkeypatch.setenv(var, str(value))
    assert main(["view"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == current_view(world.host)[1].to_json()
    assert report["assets"]["ETH"]["units"] == {"hot": str(10 * ETH), "warm": "0",
                                                "cold": str(90 * ETH)}
    assert main(["sweeps"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["key"], row["status"], row["units"]) == (f"daily:{DAY}:ETH", "sent", str(90 * ETH))


def test_a_withdrawal_after_the_view_is_not_swept_into_the_float(make_world, deposit,
                                                                 accounts) -> None:
    world = make_world(treasury=False)
    deposit(world, eth_wei=100 * ETH)
    world.mine()
    _, view = current_view(world.host)  # says: sweep 90 ETH, keep the 10 ETH float
    op = b"\x07" * 32
    world.vault.withdraw(ETH_ADDRESS, world.warm, 5 * ETH, op, sender=accounts[world.hot])
    [out] = sweeper(world).run(view, load_policy(), DAY)
    world.mine()
    assert out.status == SweepStatus.SENT and out.units == 85 * ETH
    assert world.balance(world.vault.address) == 10 * ETH
    assert world.balance(world.cold) == 85 * ETH
