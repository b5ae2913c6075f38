"""Stateful property test: random actors, random signer sets, random nonces against a model.

Invariants checked after every step:
- no execution without `threshold` valid owner signatures in strictly ascending signer order
  for the current nonce (the model predicts success/failure of every attempt exactly);
- no replay: a signature set that executed once never executes again;
- the nonce increments by exactly one on every successful execution and never otherwise;
- funds move only on successful executions (recipient balance tracks the model);
- owners and threshold never change.

A second machine drives the recovery quorum with random members, proposals, waits, executions,
owner cancellations and recovery reconfigurations against a model of the recovery rules:
- a recovery quorum is disabled (0 of none) or needs >= 2 approvals (changeRecovery refused else);
- a proposal executes only when quorate and inside [readyAt, readyAt + RECOVERY_WINDOW);
- an expired proposal restarts from no approvals; a cancel, a reconfiguration or an executed
  recovery invalidates every pending proposal (epoch);
- owners, threshold, epoch, approvals, readyAt and expiresAt always equal the model's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from eth_account import Account
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from msig_utils import RECOVERY_DELAY, SafeTxParams, Sig, ecdsa, eth_sign, msig_nonce, pack, sign_all

GAS = 1_000_000
DAY = 86400
MACHINE_SETTINGS = settings(
    max_examples=25,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


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

    run_state_machine_as_test(Machine, settings=MACHINE_SETTINGS)
    assert outcomes[True] > 0 and outcomes[False] > 0, outcomes


def _signer(seed: int) -> SimpleNamespace:
    acct = Account.from_key((9000 + seed).to_bytes(32, "big"))
    return SimpleNamespace(address=acct.address, private_key=acct.key)


@dataclass
class Proposal:
    """Model of one recovery proposal in one epoch."""

    approvers: set[str] = field(default_factory=set)
    ready_at: int = 0
    expires_at: int = 0


def test_random_recovery_lifecycle(chain, cold, owner_accounts, recovery_accounts, keeper, outsider):
    w3 = chain.provider.web3
    window = cold.RECOVERY_WINDOW()
    actors = [*recovery_accounts, outsider]  # index 3 is never a member at start
    candidates = [  # replacement owner sets (signers we hold keys for) and thresholds
        ([_signer(i) for i in range(3)], 2),
        ([_signer(i) for i in range(3, 5)], 1),
    ]
    seen = {"executed": 0, "expired_restart": 0, "refused_window": 0}

    class Machine(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.snapshot = chain.snapshot()
            self.now = chain.blocks.head.timestamp + 1
            self.owners = list(owner_accounts)
            self.threshold = cold.getThreshold()
            self.members = [a.address for a in recovery_accounts]
            self.r_threshold = cold.recoveryThreshold()
            self.epoch = cold.recoveryEpoch()
            self.proposals: dict[tuple[int, int], Proposal] = {}

        def teardown(self):
            chain.restore(self.snapshot)

        def _send(self, sender: str, data: bytes) -> bool:
            chain.provider.set_timestamp(self.now)
            h = w3.eth.send_transaction({"from": sender, "to": cold.address, "data": data, "gas": GAS})
            ok = w3.eth.wait_for_transaction_receipt(h)["status"] == 1
            self.now += 1
            return ok

        def _self_call(self, data: bytes) -> bool:
            tx = SafeTxParams(to=cold.address, data=data)
            sigs = sign_all(cold, tx, self.owners[: self.threshold])
            return self._send(keeper.address, bytes(cold.execTransaction.encode_input(*tx.args(), sigs)))

        def _proposal(self, cand: int) -> Proposal:
            return self.proposals.setdefault((self.epoch, cand), Proposal())

        @rule(who=st.integers(0, 3), cand=st.integers(0, 1))
        def propose(self, who, cand):
            owners, threshold = candidates[cand]
            sender = actors[who].address
            p = self._proposal(cand)
            expired = p.expires_at != 0 and self.now >= p.expires_at
            expect = sender in self.members and (expired or sender not in p.approvers)
            data = bytes(cold.proposeRecovery.encode_input([o.address for o in owners], threshold))
            ok = self._send(sender, data)
            assert ok == expect, (who, cand, p, self.now)
            if ok:
                if expired:
                    seen["expired_restart"] += 1
                    p.approvers, p.ready_at, p.expires_at = set(), 0, 0
                p.approvers.add(sender)
                if len(p.approvers) == self.r_threshold:
                    p.ready_at = self.now - 1 + RECOVERY_DELAY
                    p.expires_at = p.ready_at + window

        @rule(who=st.integers(0, 3), cand=st.integers(0, 1))
        def execute(self, who, cand):
            owners, threshold = candidates[cand]
            sender = actors[who].address
            p = self._proposal(cand)
            in_window = p.ready_at != 0 and p.ready_at <= self.now < p.expires_at
            expect = sender in self.members and in_window
            data = bytes(cold.executeRecovery.encode_input([o.address for o in owners], threshold))
            ok = self._send(sender, data)
            assert ok == expect, (who, cand, p, self.now)
            if sender in self.members and p.expires_at and self.now >= p.expires_at:
                seen["refused_window"] += 1
            if ok:
                seen["executed"] += 1
                self.owners, self.threshold = list(owners), threshold
                self.epoch += 1

        @rule(cand=st.integers(0, 1))
        def quorum(self, cand):
            """Every current member approves (steers runs to quorate proposals)."""
            for who in range(len(actors)):
                if actors[who].address in self.members:
                    self.propose(who, cand)

        @rule(cand=st.integers(0, 1), edge=st.sampled_from(["ready-1", "ready", "expires-1", "expires"]))
        def execute_at(self, cand, edge):
            """The members make `cand` quorate if it is not, then one executes right at a
            boundary of its window (before it, first second, last second, first second after)."""
            if not self._proposal(cand).ready_at:
                self.quorum(cand)
            self.wait_until(cand, edge)
            member = next((i for i, a in enumerate(actors) if a.address in self.members), None)
            if member is not None:
                self.execute(member, cand)

        @rule(days=st.sampled_from([1, 7, 29, 31]))
        def wait(self, days):
            self.now += days * DAY

        @rule(cand=st.integers(0, 1), edge=st.sampled_from(["ready-1", "ready", "expires-1", "expires"]))
        def wait_until(self, cand, edge):
            """Jump to a window boundary of a quorate proposal (if still ahead)."""
            p = self._proposal(cand)
            if not p.ready_at:
                return
            base = p.ready_at if edge.startswith("ready") else p.expires_at
            target = base - 1 if edge.endswith("-1") else base
            self.now = max(self.now, target)

        @rule()
        def owners_cancel(self):
            assert self._self_call(bytes(cold.cancelRecovery.encode_input()))
            self.epoch += 1

        @rule(picks=st.sets(st.integers(0, 3), max_size=4), r_threshold=st.integers(0, 4))
        def reconfigure(self, picks, r_threshold):
            members = [actors[i].address for i in sorted(picks)]
            enabled_ok = len(members) > 0 and 2 <= r_threshold <= len(members)
            expect = enabled_ok or (not members and r_threshold == 0)
            ok = self._self_call(bytes(cold.changeRecovery.encode_input(members, r_threshold, 0)))
            assert ok == expect, (members, r_threshold)
            if ok:
                self.members, self.r_threshold = members, r_threshold
                self.epoch += 1

        @invariant()
        def model_matches_chain(self):
            if not hasattr(self, "epoch"):
                return
            assert list(cold.getOwners()) == [o.address for o in self.owners]
            assert cold.getThreshold() == self.threshold
            assert cold.recoveryEpoch() == self.epoch
            assert cold.recoveryThreshold() == self.r_threshold
            assert self.r_threshold == 0 or self.r_threshold >= 2
            assert list(cold.getRecoveryOwners()) == self.members
            for cand, (owners, threshold) in enumerate(candidates):
                rid = cold.getRecoveryId([o.address for o in owners], threshold)
                p = self.proposals.get((self.epoch, cand), Proposal())
                assert cold.recoveryApprovalCount(rid) == len(p.approvers)
                assert cold.recoveryReadyAt(rid) == p.ready_at
                assert cold.recoveryExpiresAt(rid) == p.expires_at

    # Derandomized: the same runs every time, so the coverage assertion below is stable.
    run_state_machine_as_test(Machine, settings=settings(MACHINE_SETTINGS, derandomize=True, max_examples=20))
    assert min(seen.values()) > 0, seen
