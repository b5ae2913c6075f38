"""StakingPool on the fork: deposit and lock-up, rewards per epoch, withdrawal -> unbonding ->
claim, slashing pro rata between pool and queue, the guardian's pause, least privilege, and who
gets the rounding dust. Refusals are read with eth_call (``reason``); one refused transaction is
mined to show a refusal changes nothing."""

from __future__ import annotations

import pytest

from keeper.roles import StakingRole
from keeper.staking.deploy import PoolConfig, configure_staking_pool
from strongroom_testkit.staking import EPOCH, LOCKUP, SINK, UNBONDING, deploy_pool, next_epoch, reason

ETHER = 10**18


@pytest.fixture(scope="module")
def world(project, accounts):
    return deploy_pool(project, accounts, reward_per_epoch=10**16)


def books(pool, chain) -> tuple[int, int, int]:
    """(balance, pooled + queue + reserve, deposited + funded - slashed - claimed)."""
    return (chain.provider.get_balance(pool.address),
            pool.pooled() + pool.unbonding_assets() + pool.reward_reserve(),
            pool.total_deposited() + pool.total_funded() - pool.total_slashed()
            - pool.total_claimed())


def test_roles_after_deployment(world, accounts):
    pool = world.pool
    for member in StakingRole:
        assert getattr(pool, member.name)() == member.value
    assert pool.roles(world.admin) == StakingRole.ADMIN
    assert pool.roles(world.rewarder) == StakingRole.REWARDER
    assert pool.roles(world.slasher) == StakingRole.SLASHER
    assert pool.roles(world.guardian) == StakingRole.GUARDIAN
    assert pool.roles(accounts[0]) == 0  # the deployer kept nothing
    assert pool.reward_per_epoch() == 10**16 and pool.SLASH_SINK() == SINK
    config = PoolConfig(admin=accounts[0].address, rewarder=SINK, slasher=SINK, guardian=SINK,
                        slash_sink=SINK, reward_per_epoch=1)
    assert configure_staking_pool(pool, accounts[0], config) == 0  # a re-run changes nothing
    assert pool.reward_per_epoch() == 10**16 and pool.roles(accounts[0]) == 0


def test_deposit_mints_shares_and_locks(world, chain, w3):
    pool, a = world.pool, world.stakers[0]
    tx = pool.deposit(sender=a, value=2 * ETHER)
    [ev] = tx.events.filter(pool.Deposited)
    assert (ev.position, ev.owner, ev.amount, ev.shares) == (1, a.address, 2 * ETHER, 2 * ETHER)
    assert ev.locked_until == tx.timestamp + LOCKUP
    assert reason(w3, pool, "requestWithdrawal", 1, ETHER, sender=a) == "Staking: position locked"
    assert reason(w3, pool, "deposit", sender=a) == "Staking: zero amount"
    chain.mine(timestamp=ev.locked_until)
    assert reason(w3, pool, "requestWithdrawal", 1, ETHER, sender=world.stakers[1]) == \
        "Staking: not position owner"
    assert reason(w3, pool, "requestWithdrawal", 1, ETHER, sender=a) is None


def test_rewards_accrue_per_epoch_pro_rata(world, chain):
    pool, (a, b) = world.pool, world.stakers[:2]
    pool.deposit(sender=a, value=3 * ETHER)
    pool.deposit(sender=b, value=ETHER)
    pool.fundRewards(sender=world.rewarder, value=ETHER)
    next_epoch(chain, 3)
    tx = pool.accrue(sender=b)
    [ev] = tx.events.filter(pool.RewardsAccrued)
    assert ev.amount == 3 * 10**16 and ev.to_epoch - ev.from_epoch == 3
    assert pool.pooled() == 4 * ETHER + 3 * 10**16
    assert pool.previewValue(pool.positions(1).shares) == 3 * ETHER + 3 * 10**16 * 3 // 4
    assert pool.previewValue(pool.positions(2).shares) == ETHER + 3 * 10**16 // 4
    assert pool.reward_reserve() == ETHER - 3 * 10**16
    assert not pool.accrue(sender=b).events.filter(pool.RewardsAccrued)  # same epoch: nothing
    # a deposit after the rewards buys shares at the new price
    tx = pool.deposit(sender=b, value=ETHER)
    [dep] = tx.events.filter(pool.Deposited)
    assert dep.shares == ETHER * (4 * ETHER) // (4 * ETHER + 3 * 10**16)
    assert books(pool, chain)[0] == books(pool, chain)[1] == books(pool, chain)[2]


def test_withdrawal_unbonds_then_claims(world, chain, w3):
    pool, a = world.pool, world.stakers[0]
    pool.deposit(sender=a, value=2 * ETHER)
    chain.mine(timestamp=chain.pending_timestamp + LOCKUP)
    tx = pool.requestWithdrawal(1, ETHER, sender=a)
    [ev] = tx.events.filter(pool.WithdrawalRequested)
    assert (ev.request, ev.amount, ev.units) == (1, ETHER, ETHER)
    assert ev.claimable_at == tx.timestamp + UNBONDING
    assert pool.positions(1).shares == ETHER and pool.unbonding_assets() == ETHER
    assert reason(w3, pool, "claim", 1, sender=a) == "Staking: still unbonding"
    chain.mine(timestamp=ev.claimable_at)
    assert reason(w3, pool, "claim", 1, sender=world.stakers[1]) == "Staking: not request owner"
    before = chain.provider.get_balance(a.address)
    tx = pool.claim(1, sender=a)
    [paid] = tx.events.filter(pool.WithdrawalClaimed)
    assert paid.amount == paid.requested == ETHER
    gas = tx.gas_used * tx.gas_price
    assert chain.provider.get_balance(a.address) == before + ETHER - gas
    assert reason(w3, pool, "claim", 1, sender=a) == "Staking: already claimed"
    balance, held, booked = books(pool, chain)
    assert balance == held == booked == ETHER


def test_slash_cuts_pool_and_queue_pro_rata(world, chain, w3):
    pool, (a, b) = world.pool, world.stakers[:2]
    pool.deposit(sender=a, value=6 * ETHER)
    pool.deposit(sender=b, value=4 * ETHER)
    chain.mine(timestamp=chain.pending_timestamp + LOCKUP)
    req = pool.requestWithdrawal(2, pool.positions(2).shares, sender=b)
    requested = req.events.filter(pool.WithdrawalRequested)[0].amount
    sink_before = chain.provider.get_balance(SINK)
    too_much = (pool.pooled() + pool.unbonding_assets()) // 10 + 1
    assert reason(w3, pool, "slash", too_much, sender=world.slasher) == \
        "Staking: bad slash amount"
    tx = pool.slash(ETHER // 2, sender=world.slasher)  # 5 % of 10 ETH: 6:4 pool:queue
    [ev] = tx.events.filter(pool.Slashed)
    assert (ev.pool_amount, ev.unbonding_amount) == (3 * ETHER // 10, 2 * ETHER // 10)
    assert chain.provider.get_balance(SINK) == sink_before + ETHER // 2
    assert pool.previewValue(pool.positions(1).shares) == 6 * ETHER - 3 * ETHER // 10
    assert reason(w3, pool, "slash", 1, sender=world.slasher) == "Staking: slashed this epoch"
    chain.mine(timestamp=chain.pending_timestamp + UNBONDING)
    [paid] = pool.claim(1, sender=b).events.filter(pool.WithdrawalClaimed)
    assert paid.requested == requested == 4 * ETHER
    assert paid.amount == 4 * ETHER - 2 * ETHER // 10  # the unbonding paid less after the slash
    balance, held, booked = books(pool, chain)
    assert balance == held == booked


def test_pause_stops_flows_and_a_refusal_changes_nothing(world, chain, w3):
    pool, a = world.pool, world.stakers[0]
    pool.deposit(sender=a, value=ETHER)
    pool.fundRewards(sender=world.rewarder, value=ETHER)
    assert reason(w3, pool, "pause", sender=a) == "Staking: not guardian"
    pool.pause(sender=world.guardian)
    assert reason(w3, pool, "deposit", sender=a, value=ETHER) == "Staking: paused"
    assert reason(w3, pool, "requestWithdrawal", 1, 1, sender=a) == "Staking: paused"
    state = (pool.pooled(), pool.total_shares(), pool.position_count(), books(pool, chain))
    tx_hash = w3.eth.send_transaction({"from": a.address, "to": pool.address, "value": ETHER,
                                       "data": pool.deposit.encode_input(), "gas": 300_000})
    assert w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 0
    assert (pool.pooled(), pool.total_shares(), pool.position_count(), books(pool, chain)) == state
    next_epoch(chain)
    assert pool.accrue(sender=a).events.filter(pool.RewardsAccrued)  # rewards go on
    pool.unpause(sender=world.guardian)
    assert reason(w3, pool, "deposit", sender=a, value=ETHER) is None


def test_least_privilege(world, w3):
    pool = world.pool
    refusals = {
        (world.rewarder, "slash", (1,)): "Staking: not slasher",
        (world.rewarder, "setRewardPerEpoch", (1,)): "Staking: not admin",
        (world.rewarder, "pause", ()): "Staking: not guardian",
        (world.slasher, "fundRewards", ()): "Staking: not rewarder",
        (world.slasher, "setRewardPerEpoch", (1,)): "Staking: not admin",
        (world.guardian, "slash", (1,)): "Staking: not slasher",
        (world.admin, "slash", (1,)): "Staking: not slasher",
        (world.admin, "fundRewards", ()): "Staking: not rewarder",
        (world.rewarder, "setRoles", (world.rewarder.address, 4)): "access: not admin",
    }
    for (who, method, args), expected in refusals.items():
        value = 1 if method == "fundRewards" else 0
        assert reason(w3, pool, method, *args, sender=who, value=value) == expected, method
    assert reason(w3, pool, "setRewardPerEpoch", 10**30 + 1, sender=world.admin) == \
        "Staking: rate too high"


def test_rounding_dust_goes_to_the_last_holder(world, chain):
    """Odd amounts and an odd reward rate: every division rounds down, the dust stays in the
    pool and the last holder out of each pool takes it; nothing is stranded or created."""
    pool = world.pool
    pool.setRewardPerEpoch(10**15 + 7, sender=world.admin)
    pool.fundRewards(sender=world.rewarder, value=ETHER)
    amounts = [ETHER + 1, 3 * ETHER + 7, 10**9 + 3]
    for who, amount in zip(world.stakers, amounts, strict=False):
        pool.deposit(sender=who, value=amount)
    next_epoch(chain, 5)
    chain.mine(timestamp=chain.pending_timestamp + LOCKUP)
    pool.accrue(sender=world.stakers[0])
    accrued = pool.pooled() - sum(amounts)
    assert accrued > 0
    requested = []
    for i, who in enumerate(world.stakers[:3]):
        tx = pool.requestWithdrawal(i + 1, pool.positions(i + 1).shares, sender=who)
        requested.append(tx.events.filter(pool.WithdrawalRequested)[0].amount)
        assert not tx.events.filter(pool.RewardsAccrued)  # the same epoch: all accrued above
    assert pool.pooled() == 0 and pool.total_shares() == 0
    assert sum(requested) == sum(amounts) + accrued  # the last request took the pool's dust
    chain.mine(timestamp=chain.pending_timestamp + UNBONDING)
    paid = [pool.claim(i + 1, sender=who).events.filter(pool.WithdrawalClaimed)[0].amount
            for i, who in enumerate(world.stakers[:3])]
    assert paid == requested and pool.unbonding_assets() == pool.unbonding_units() == 0
    balance, held, booked = books(pool, chain)
    assert balance == held == booked == pool.reward_reserve()
    assert EPOCH == 3600
