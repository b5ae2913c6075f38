"""Stateful property test: random actors, random signer sets, random nonces against a model.

Invariants checked after every step:
- no execution without `threshold` valid owner signatures in strictly ascending signer order
  for the current nonce (the model predicts success/failure of every attempt exactly);
- no replay: a signature set that executed once never executes again;
- the nonce increments by exactly one on every successful execution and never otherwise;
- funds move only on successful executions (recipient balance tracks the model);
- owners and threshold never change.
"""

from __future__ import annotations

from eth_account import Account
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from msig_utils import SafeTxParams, Sig, ecdsa, eth_sign, msig_nonce, pack

GAS = 1_000_000


def test_random_exec_transactions(chain, cold, owner_accounts, keeper, accounts):
    w3 = chain.provider.web3
    owner_keys = [a.private_key for a in owner_accounts]
    stranger_keys = [Account.from_key((7000 + i).to_bytes(32, "big")).key.hex() for i in range(2)]
    keys = owner_keys + stranger_keys  # indices 0..4 owners, 5..6 strangers
    addr = [Account.from_key(k).address for k in keys]
    owners = {a.address for a in owner_accounts}
    threshold = cold.getThreshold()
    recipient = "0x000000000000000000000000000000000000bEEF"
    senders = [keeper, accounts[9], owner_accounts[0]]
    outcomes = {True: 0, False: 0}

    class Machine(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.snapshot = chain.snapshot()
            self.nonce = msig_nonce(cold)
            self.balance = w3.eth.get_balance(recipient)
            self.executed: list[tuple[SafeTxParams, bytes]] = []

        def teardown(self):
            chain.restore(self.snapshot)

        def _send(self, tx: SafeTxParams, sigs: bytes, sender) -> bool:
            data = cold.execTransaction.encode_input(*tx.args(), sigs)
            h = w3.eth.send_transaction(
                {"from": sender.address, "to": cold.address, "data": data, "gas": GAS}
            )
            return w3.eth.wait_for_transaction_receipt(h)["status"] == 1

        @rule(
            signers=st.lists(st.integers(0, 6), min_size=0, max_size=6),
            kinds=st.lists(st.booleans(), min_size=6, max_size=6),
            order=st.sampled_from(["sorted", "reversed", "as-drawn"]),
            nonce_offset=st.sampled_from([0, 0, 0, 1, -1]),
            value=st.integers(0, 10**15),
            sender=st.integers(0, 2),
        )
        def attempt(self, signers, kinds, order, nonce_offset, value, sender):
            nonce = max(self.nonce + nonce_offset, 0)
            tx = SafeTxParams(to=recipient, value=value)
            h = bytes(cold.getTransactionHash(*tx.args(), nonce))
            sigs: list[Sig] = [
                (ecdsa if kinds[i] else eth_sign)(keys[idx], h) for i, idx in enumerate(signers)
            ]
            if order == "sorted":
                sigs.sort(key=lambda s: int(s.owner, 16))
            elif order == "reversed":
                sigs.sort(key=lambda s: int(s.owner, 16), reverse=True)
            blob = pack(sigs, sort=False)
            first = [int(s.owner, 16) for s in sigs[:threshold]]
            expect = (
                nonce == self.nonce
                and len(sigs) >= threshold
                and all(a < b for a, b in zip(first, first[1:], strict=False))
                and all(s.owner in owners for s in sigs[:threshold])
            )
            ok = self._send(tx, blob, senders[sender])
            outcomes[ok] += 1
            assert ok == expect, (signers, order, nonce_offset, [addr.index(s.owner) for s in sigs])
            if ok:
                self.nonce += 1
                self.balance += value
                self.executed.append((tx, blob))

        @rule(
            quorum=st.sets(st.integers(0, 4), min_size=1, max_size=5),
            stranger=st.booleans(),
            value=st.integers(0, 10**15),
            sender=st.integers(0, 2),
        )
        def attempt_owner_subset(self, quorum, stranger, value, sender):
            """Sorted signatures of a random owner subset (+ maybe a stranger): valid iff big enough."""
            signers = sorted(quorum) + ([5] if stranger else [])
            self.attempt(signers, [True] * 6, "sorted", 0, value, sender)

        @rule(pick=st.integers(0, 100), sender=st.integers(0, 2))
        def replay(self, pick, sender):
            if not self.executed:
                return
            tx, blob = self.executed[pick % len(self.executed)]
            assert not self._send(tx, blob, senders[sender])

        @invariant()
        def model_matches_chain(self):
            if not hasattr(self, "nonce"):
                return
            assert msig_nonce(cold) == self.nonce
            assert w3.eth.get_balance(recipient) == self.balance
            assert cold.getThreshold() == threshold
            assert set(cold.getOwners()) == owners

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
    assert outcomes[True] > 0 and outcomes[False] > 0, outcomes
