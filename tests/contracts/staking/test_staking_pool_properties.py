"""Stateful property test of StakingPool: random deposits, withdrawal requests, claims, reward
funding, epochs passing, slashes and pauses never break its books.

Invariants after every step (model = the sums of the events this test saw):
  S1 balance == principal in + rewards funded - slashed - claimed (the model's and the
     contract's cumulative books agree), and == pooled + unbonding queue + reward reserve;
  S2 the positions' shares add up to total_shares, the open requests' units to the queue's;
  S3 nothing moves (deposit, request, claim) while paused;
  S4 a claim never pays more than was requested.
Calls that would revert are detected by eth_call first and not sent (ape takes seconds to
report a revert on a fork); what was refused is counted."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from strongroom_testkit.staking import EPOCH, LOCKUP, deploy_pool, reason

ETHER = 10**18


def test_pool_books_hold_under_random_operations(project, accounts, chain, w3):
    world = deploy_pool(project, accounts, reward_per_epoch=10**15 + 3)
    pool, stakers = world.pool, world.stakers
    stats: Counter[str] = Counter()

    class PoolMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snap = chain.snapshot()
            self.deposited = self.funded = self.slashed = self.claimed = 0
            self.open: dict[int, int] = {}  # request id -> units

        def teardown(self) -> None:
            chain.restore(self.snap)

        def _send(self, method, *args, sender, value=0):
            fn = getattr(pool, method)
            why = reason(w3, pool, method, *args, sender=sender, value=value)
            if why is not None:
                stats[f"refused: {why}"] += 1
                return None
            stats[method] += 1
            tx = fn(*args, sender=sender, value=value) if value else fn(*args, sender=sender)
            if tx.events.filter(pool.Deposited) or tx.events.filter(pool.WithdrawalRequested) \
                    or tx.events.filter(pool.WithdrawalClaimed):
                assert not pool.isPaused(block_id=tx.block_number), "S3: moved while paused"
            for ev in tx.events.filter(pool.Deposited):
                self.deposited += ev.amount
            for ev in tx.events.filter(pool.WithdrawalRequested):
                self.open[ev.request] = ev.units
            for ev in tx.events.filter(pool.WithdrawalClaimed):
                assert ev.amount <= ev.requested, "S4: claim paid more than requested"
                self.claimed += ev.amount
                self.open.pop(ev.request)
            for ev in tx.events.filter(pool.Slashed):
                self.slashed += ev.amount
            for ev in tx.events.filter(pool.RewardsFunded):
                self.funded += ev.amount
            return tx

        @initialize()
        def staked(self):
            """Three positions past their lock-up and a funded reserve, so every rule can act."""
            for i, who in enumerate(stakers[:3]):
                self._send("deposit", sender=who, value=(i + 1) * ETHER + i)
            self._send("fundRewards", sender=world.rewarder, value=ETHER)
            chain.mine(timestamp=chain.pending_timestamp + LOCKUP)

        @rule(who=st.integers(0, 3), amount=st.sampled_from([1, 7, 10**9 + 1, ETHER, 3 * ETHER + 5]))
        def deposit(self, who, amount):
            self._send("deposit", sender=stakers[who], value=amount)

        @rule(data=st.data(), frac=st.sampled_from([1, 1, 2, 3]),
              stranger=st.sampled_from([False, False, False, True]))
        def request(self, data, frac, stranger):
            if pool.position_count() == 0:
                return
            pos = data.draw(st.integers(1, pool.position_count()))
            p = pool.positions(pos)
            owner = next(a for a in stakers if a.address == p.owner)
            who = stakers[(stakers.index(owner) + 1) % 4] if stranger else owner
            self._send("requestWithdrawal", pos, p.shares // frac, sender=who)

        @rule(data=st.data())
        def claim(self, data):
            if self.open:
                rid = data.draw(st.sampled_from(sorted(self.open)))
                r = pool.requests(rid)
                owner = r.owner
                if chain.pending_timestamp < r.claimable_at:  # the unbonding period passes
                    chain.mine(timestamp=r.claimable_at)
                self._send("claim", rid, sender=next(a for a in stakers if a.address == owner))

        @rule(amount=st.sampled_from([1, 10**15, ETHER]))
        def fund(self, amount):
            self._send("fundRewards", sender=world.rewarder, value=amount)

        @rule(epochs=st.sampled_from([1, 3]))
        def time_passes(self, epochs):
            chain.mine(timestamp=chain.pending_timestamp + epochs * EPOCH)

        @rule(bps=st.sampled_from([1, 50, 999]))
        def slash(self, bps):
            amount = (pool.pooled() + pool.unbonding_assets()) * bps // 10_000
            self._send("slash", amount, sender=world.slasher)

        @rule()
        def pause_or_lift(self):
            self._send("unpause" if pool.isPaused() else "pause", sender=world.guardian)

        @invariant()
        def books_balance(self):
            balance = chain.provider.get_balance(pool.address)
            books = (pool.total_deposited(), pool.total_funded(), pool.total_slashed(),
                     pool.total_claimed())
            assert books == (self.deposited, self.funded, self.slashed, self.claimed)
            assert balance == self.deposited + self.funded - self.slashed - self.claimed, "S1"
            assert balance == pool.pooled() + pool.unbonding_assets() + pool.reward_reserve()
            shares = sum(pool.positions(i).shares for i in range(1, pool.position_count() + 1))
            assert shares == pool.total_shares(), "S2: shares"
            assert sum(self.open.values()) == pool.unbonding_units(), "S2: units"

    run_state_machine_as_test(PoolMachine, settings=settings(
        max_examples=8, stateful_step_count=10, derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))
    assert stats["requestWithdrawal"] and stats["claim"] and stats["slash"], dict(stats)
