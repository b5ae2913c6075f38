"""Stateful property test: random calls by random actors never break the vault's invariants.

Invariants, checked against on-chain events and state after every step:
  I1 no outflow (Withdrawal/Sweep) to an address that was not active on the Whitelist at
     the block of the transfer;
  I2 the outflow of a token in a UTC day never exceeds its daily limit (model == contract);
  I3 nothing moves (no Deposit/Withdrawal/Sweep) while a pause is in force;
  I4 a queued withdrawal never executes before its eta (queue time + 24 h);
  I5 the vault's balances equal deposits minus outflows (no value created or lost).
"""

from __future__ import annotations

from collections import defaultdict

from ape.exceptions import ContractLogicError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from scripts.deployments import ETH

DAY = 86400
WEEK = 7 * DAY
USD = 10**6
ETHER = 10**18


def test_vault_state_machine(funded_vault, whitelist, who, usdc_t, usdt_t, chain):
    vault = funded_vault
    tokens = [ETH, usdc_t.address, usdt_t.address]
    units = {ETH: ETHER, usdc_t.address: 10_000 * USD, usdt_t.address: 10_000 * USD}
    limits = {t: vault.token_config(t).daily_limit for t in tokens}
    actors = [who.customer, who.treasury, who.stranger, who.compliance, who.pauser, who.admin]
    dests = [who.dest.address, who.dest2.address, who.pending.address, who.stranger.address,
             who.warm.address]

    def balance(token: str, holder: str) -> int:
        if token == ETH:
            return chain.provider.get_balance(holder)
        return (usdc_t if token == usdc_t.address else usdt_t).balanceOf(holder)

    stats: dict[str, int] = defaultdict(int)

    class VaultMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snap = chain.snapshot()
            self.outflow: dict[tuple[str, int], int] = defaultdict(int)
            self.queued: dict[bytes, int] = {}  # op id -> eta
            self.n = 0
            self.paused_at = vault.paused_at()
            self.expected = {t: balance(t, vault.address) for t in tokens}

        def teardown(self) -> None:
            chain.restore(self.snap)

        # ------------------------------------------------ helpers
        def _paused_at(self, ts: int) -> bool:
            return self.paused_at != 0 and ts < self.paused_at + WEEK

        def _check_tx(self, tx) -> None:
            ts = tx.timestamp
            moved = [*tx.events.filter(vault.Withdrawal), *tx.events.filter(vault.Sweep)]
            deposits = tx.events.filter(vault.Deposit)
            if moved or deposits:
                assert not self._paused_at(ts), "I3: value moved while paused"
            for ev in moved:
                at = whitelist.activates_at(ev.to, block_id=tx.block_number)
                assert at != 0 and at <= ts, "I1: outflow to inactive address"
                key = (ev.token, ts // DAY)
                self.outflow[key] += ev.amount
                assert self.outflow[key] <= limits[ev.token], "I2: daily limit exceeded"
                assert vault.outflow(ev.token, ts // DAY) == self.outflow[key]
                self.expected[ev.token] -= ev.amount
            for ev in deposits:
                self.expected[ev.token] += ev.amount
            for ev in tx.events.filter(vault.WithdrawalQueued):
                self.queued[bytes(ev.op_id)] = ev.eta
            if tx.events.filter(vault.Paused):
                self.paused_at = ts
            if tx.events.filter(vault.Unpaused):
                self.paused_at = 0

        def _try(self, fn, *args, **kw):
            try:
                tx = fn(*args, **kw)
            except ContractLogicError:
                stats["reverted"] += 1
                return None
            stats["ok"] += 1
            stats["moved"] += len(tx.events.filter(vault.Withdrawal))
            stats["queued"] += len(tx.events.filter(vault.WithdrawalQueued))
            self._check_tx(tx)
            return tx

        # ------------------------------------------------ rules
        @rule(t=st.sampled_from(range(3)), d=st.sampled_from([0, 0, 1, 2, 3, 4]),
              mult=st.sampled_from([1, 2, 4, 6, 25, 41]), a=st.sampled_from([0, 0, 0, 1, 2, 3]))
        def withdraw(self, t, d, mult, a):
            self.n += 1
            token = tokens[t]
            op_id = (10_000 + self.n).to_bytes(32, "big")
            tx = self._try(vault.withdraw, token, dests[d], mult * units[token], op_id,
                           sender=actors[a])
            if tx is not None:
                assert actors[a] in (who.customer, who.treasury)

        @rule(data=st.data(), a=st.sampled_from(range(6)))
        def execute(self, data, a):
            if not self.queued:
                return
            op_id = data.draw(st.sampled_from(sorted(self.queued)))
            tx = self._try(vault.executeWithdrawal, op_id, sender=actors[a])
            if tx is not None:
                assert tx.timestamp >= self.queued[op_id], "I4: executed before its delay"

        @rule(data=st.data())
        def cancel(self, data):
            if self.queued:
                op_id = data.draw(st.sampled_from(sorted(self.queued)))
                self._try(vault.cancelWithdrawal, op_id, sender=who.compliance)

        @rule(t=st.sampled_from(range(3)), mult=st.sampled_from([1, 5, 30]),
              tier=st.sampled_from([1, 2, 3]), a=st.sampled_from([1, 2]))
        def sweep(self, t, mult, tier, a):
            token = tokens[t]
            self._try(vault.sweep, token, mult * units[token], tier, sender=actors[a])

        @rule(a=st.sampled_from([4, 2, 2]))
        def pause(self, a):
            self._try(vault.pause, sender=actors[a])

        @rule(a=st.sampled_from([5, 5, 4]))
        def unpause(self, a):
            self._try(vault.unpause, sender=actors[a])

        @rule(t=st.sampled_from(range(3)), d=st.sampled_from([0, 1]), mult=st.sampled_from([1, 3]))
        def withdraw_small(self, t, d, mult):
            self.n += 1
            token = tokens[t]
            op_id = (10_000 + self.n).to_bytes(32, "big")
            self._try(vault.withdraw, token, dests[d], mult * units[token], op_id,
                      sender=who.customer)

        @rule()
        def deposit_eth(self):
            self._try(vault.depositEth, b"\x07" * 32, value=ETHER, sender=who.depositor)

        @rule(add=st.booleans(), d=st.sampled_from([1, 2, 4]))
        def whitelist_change(self, add, d):
            fn = whitelist.add if add else whitelist.remove
            self._try(fn, dests[d], sender=who.compliance)

        @rule(dt=st.sampled_from([60, 3 * 3600, 12 * 3600, DAY, 3 * DAY, 8 * DAY]))
        def advance(self, dt):
            chain.mine(timestamp=chain.pending_timestamp + dt)

        # ------------------------------------------------ invariants
        @invariant()
        def balances_match_model(self):
            for t in tokens:
                assert balance(t, vault.address) == self.expected[t], "I5: balance drift"

    run_state_machine_as_test(
        VaultMachine,
        settings=settings(max_examples=15, stateful_step_count=15, deadline=None, derandomize=True,
                          suppress_health_check=list(HealthCheck)),
    )
    print(dict(stats))
    # the run exercised both sides: real outflows and real rejections
    assert stats["moved"] > 0 and stats["queued"] > 0 and stats["reverted"] > 0
