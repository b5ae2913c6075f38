"""Tier alerts on the fork: a refused sweep (paused token, cold budget exhausted, key without the
role) sends nothing, changes nothing and alerts once; a hot tier above its ceiling alerts once per
crossing, not once per run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from keeper.assets import ETH_ADDRESS
from keeper.jobs.scheduler import JobRun
from keeper.roles import VaultRole
from keeper.treasury.tiers import CEILING_ALERT, REFUSED_ALERT, SweepBook, SweepStatus
from keeper.treasury.tiers.jobs import treasury_sweep_daily, treasury_tier_check
from keeper.treasury.tiers.policy import DEFAULT_POLICY_FILE

pytestmark = pytest.mark.fork
ETH = 10**18
USDC = 10**6
USD6 = 10**6
SLOT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def alerts(world: Any, kind: str) -> list[tuple[str, str, str | None]]:
    return [a for a in world.host.ledger.alerts() if a[0] == kind]


def refused_unchanged(world: Any, asset: str, vault_before: int) -> Any:
    nonce = world.hot_nonce()
    treasury_sweep_daily(JobRun(world.host, "treasury_sweep_daily", SLOT))
    treasury_sweep_daily(JobRun(world.host, "treasury_sweep_daily", SLOT))  # again: one alert
    world.mine()
    assert world.hot_nonce() == nonce
    assert world.balance(world.vault.address, asset) == vault_before
    assert world.balance(world.cold, asset) == 0
    rows = {r.asset: r for r in SweepBook(world.host.ledger.engine).rows("daily")}
    assert rows[asset].status == SweepStatus.REFUSED
    [alert] = [a for a in alerts(world, REFUSED_ALERT) if asset in a[1]]
    return rows[asset], alert


def test_a_paused_token_refuses_the_sweep_and_alerts(make_world, deposit, accounts,
                                                      chain, usdc) -> None:
    world = make_world(treasury=False)
    deposit(world, usdc=1_000_000 * USDC)
    world.mine()
    chain.provider.set_balance(usdc.pauser(), 10**20)
    usdc.pause(sender=accounts[usdc.pauser()])
    row, alert = refused_unchanged(world, "USDC", 1_000_000 * USDC)
    assert row.code == "token_paused" and "token_paused" in alert[1]


def test_a_short_cold_budget_caps_the_sweep_then_an_exhausted_one_refuses(make_world,
                                                                          deposit) -> None:
    # budget USD 100,000 a rolling day; the vault prices ETH at USD 3,300: 90 ETH would be
    # USD 297,000, so the sweep takes what fits (floor(100,000 / 3,300 ETH)) instead of nothing
    world = make_world(treasury=False, cold_sweep_limit_usd=100_000 * USD6)
    deposit(world, eth_wei=100 * ETH)
    world.mine()
    fits = 100_000 * USD6 * ETH // (3_300 * USD6)
    assert treasury_sweep_daily(JobRun(world.host, "treasury_sweep_daily", SLOT)) == 1
    world.mine()
    assert world.balance(world.cold) == fits
    [row] = SweepBook(world.host.ledger.engine).rows("daily")
    assert (row.units, row.status) == (fits, SweepStatus.SENT)
    assert world.vault.coldSweptUsd() == world.vault.valueUsd(ETH_ADDRESS, fits) <= 100_000 * USD6
    # the next day, within the same rolling 24 h: the budget is spent, the sweep is refused
    next_day = SLOT + timedelta(days=1)
    nonce = world.hot_nonce()
    treasury_sweep_daily(JobRun(world.host, "treasury_sweep_daily", next_day))
    world.mine()
    assert world.hot_nonce() == nonce and world.balance(world.cold) == fits
    row = SweepBook(world.host.ledger.engine).get(f"daily:{next_day.date()}:ETH")
    assert (row.status, row.code, row.reason) == (SweepStatus.REFUSED, "limit_reached",
                                                  "Vault: daily limit exceeded")
    assert len(alerts(world, REFUSED_ALERT)) == 1


def test_a_key_without_the_role_is_refused_not_sent(make_world, deposit) -> None:
    # governance revoked SWEEPER from the hot key (it keeps CUSTOMER): the sweep is refused
    world = make_world(treasury=False, sweeper=False)
    assert world.vault.roles(world.hot) == VaultRole.CUSTOMER
    deposit(world, eth_wei=100 * ETH)
    world.mine()
    row, alert = refused_unchanged(world, "ETH", 100 * ETH)
    assert row.reason == "Vault: not sweeper" and "Vault: not sweeper" in alert[1]
    assert row.code == "not_authorised"


def _policy_with_ceiling(tmp_path: Path, cents: int) -> Path:
    data = json.loads(DEFAULT_POLICY_FILE.read_text())
    data["hot_ceiling_cents"] = cents
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(data))
    return path


def test_hot_above_the_ceiling_alerts_once_per_crossing(make_world, deposit, tmp_path) -> None:
    # ceiling USD 100,000: 100 ETH at USD 3,000 is USD 300,000
    world = make_world(treasury=False, policy=_policy_with_ceiling(tmp_path, 100_000 * 100))

    def check(hour: int) -> bool:
        return treasury_tier_check(JobRun(world.host, "treasury_tier_check",
                                          SLOT + timedelta(hours=hour)))

    deposit(world, eth_wei=10 * ETH)  # USD 30,000: below
    world.mine()
    assert check(0) is False and alerts(world, CEILING_ALERT) == []
    deposit(world, eth_wei=90 * ETH)  # USD 300,000: above
    world.mine()
    assert check(1) is True
    assert check(2) is False  # still above: no second alert
    [(_, message, ref)] = alerts(world, CEILING_ALERT)
    assert ref == f"{CEILING_ALERT}:1" and "$300,000.00" in message
    treasury_sweep_daily(JobRun(world.host, "treasury_sweep_daily", SLOT))  # 90 ETH to cold
    world.mine()
    assert check(3) is False  # below again: re-armed
    deposit(world, eth_wei=100 * ETH)
    world.mine()
    assert check(4) is True
    assert [a[2] for a in alerts(world, CEILING_ALERT)] == [f"{CEILING_ALERT}:1",
                                                            f"{CEILING_ALERT}:2"]


def test_a_stale_price_does_not_stop_the_sweep_but_blinds_the_ceiling_loudly(
        make_world, deposit) -> None:
    world = make_world(treasury=False)
    deposit(world, eth_wei=100 * ETH)
    world.mine()
    stale = datetime.now(UTC) - timedelta(hours=3)
    (world.settings.data_dir / "prices.json").write_text(json.dumps(
        {"as_of": stale.isoformat(), "prices": {"ETH": 300_000, "BTC": 9_000_000}}))
    # shares are per asset, in units: the sweep needs no price
    assert treasury_sweep_daily(JobRun(world.host, "treasury_sweep_daily", SLOT)) == 1
    world.mine()
    assert world.balance(world.cold) == 90 * ETH
    # the ceiling cannot be checked without a price: the run fails and ops hear it at once
    with pytest.raises(Exception, match="ETH"):
        treasury_tier_check(JobRun(world.host, "treasury_tier_check", SLOT))
    [(_, message, _)] = alerts(world, "treasury_tier_unpriced")
    assert "ETH" in message


def test_a_sweep_that_reverts_once_mined_is_failed_and_alerted(make_world, deposit, accounts,
                                                                chain, usdc) -> None:
    from keeper.chain import SenderConfig, TxSender

    world = make_world(treasury=False)
    deposit(world, usdc=1_000_000 * USDC)
    world.mine()
    sender = TxSender(world.host.ledger.engine, world.w3, world.ring, "eth-hot",
                      SenderConfig(max_fee_wei=300 * 10**9, bump_after_s=60))
    world.w3.provider.make_request("evm_setAutomine", [False])
    try:  # the sweep is simulated fine and broadcast, then leaves the node's pool unmined
        treasury_sweep_daily(JobRun(world.host, "treasury_sweep_daily", SLOT))
        [sent] = SweepBook(world.host.ledger.engine).rows("daily")
        world.w3.provider.make_request("anvil_dropTransaction", [sent.reference])
    finally:
        world.w3.provider.make_request("evm_setAutomine", [True])
    chain.provider.set_balance(usdc.pauser(), 10**20)
    usdc.pause(sender=accounts[usdc.pauser()])  # the token pauses before the sweep is mined
    sender.tick()  # the stored bytes go out again, and revert
    world.mine(3)
    sender.tick()
    assert world.balance(world.cold, "USDC") == 0
    treasury_sweep_daily(JobRun(world.host, "treasury_sweep_daily", SLOT + timedelta(days=1)))
    row = SweepBook(world.host.ledger.engine).get(f"daily:{SLOT.date()}:USDC")
    assert (row.status, row.code) == ("failed", "token_paused")
    [alert] = [a for a in alerts(world, REFUSED_ALERT) if a[2].endswith(row.key)]
    assert "token_paused" in alert[1] and "reverted on chain" in alert[1]
