"""Property tests: random transfer sequences, group-committed, against a reference model.

Every example submits its whole sequence at once (so most of it shares group commits) on a fresh
asset namespace, then checks each outcome and the final balances against a plain-Python model,
and runs ``verify_invariants`` on the database. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keeper.ledger import (
    AlreadyReversed,
    HoldResolved,
    IdempotencyConflict,
    InsufficientFunds,
    Kind,
    Ledger,
    TransferSpec,
)

_ns = itertools.count()
CLIENTS = 3
amounts = st.one_of(st.integers(1, 1_000), st.integers(2**63 - 5, 2**66))
ops = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), st.integers(0, CLIENTS - 1), st.just(0), amounts),
        st.tuples(st.just("withdraw"), st.integers(0, CLIENTS - 1), st.just(0), amounts),
        st.tuples(st.just("move"), st.integers(0, CLIENTS - 1), st.integers(0, CLIENTS - 1),
                  amounts),
        st.tuples(st.just("fee"), st.integers(0, CLIENTS - 1), st.just(0), st.integers(1, 50)),
        st.tuples(st.just("hold"), st.integers(0, CLIENTS - 1), st.just(0), amounts),
        st.tuples(st.just("post"), st.integers(0, 30), st.just(0), st.integers(0, 100)),
        st.tuples(st.just("void"), st.integers(0, 30), st.just(0), st.just(0)),
        st.tuples(st.just("retry"), st.integers(0, 30), st.just(0), st.just(0)),
        st.tuples(st.just("conflict"), st.integers(0, 30), st.just(0), st.just(0)),
        st.tuples(st.just("reverse"), st.integers(0, 30), st.just(0), st.just(0)),
    ),
    min_size=1,
    max_size=30,
)


class Model:
    """Reference semantics: the ledger rules written as directly as possible."""

    def __init__(self, om: int, fee: int, clients: list[int]) -> None:
        self.bal: dict[int, list[int]] = {a: [0, 0, 0, 0] for a in [om, fee, *clients]}
        self.clients = set(clients)
        self.done: dict[str, TransferSpec] = {}  # created transfers by id
        self.holds: dict[str, int] = {}  # unresolved hold id -> amount
        self.reversed: set[str] = set()

    def apply(self, t: TransferSpec) -> str:
        """Return 'created', 'dup', or the name of the expected error."""
        if t.transfer_id in self.done:
            return "dup" if self.done[t.transfer_id].fingerprint() == t.fingerprint() else (
                IdempotencyConflict.__name__)
        if t.kind in (Kind.POST, Kind.VOID):
            assert t.pending_id
            if t.pending_id not in self.holds:
                return HoldResolved.__name__ if t.pending_id in self.done else "HoldNotFound"
            held = self.holds.pop(t.pending_id)
            hold = self.done[t.pending_id]
            d, c = self.bal[hold.debit_account], self.bal[hold.credit_account]
            d[2] -= held
            c[3] -= held
            amt = (t.amount or held) if t.kind is Kind.POST else 0
            d[0] += amt
            c[1] += amt
        else:
            if t.reverses_id:  # same check order as the ledger
                orig = self.done.get(t.reverses_id)
                if orig is None or orig.kind is not Kind.SINGLE:
                    return "InvalidTransfer"  # nothing posted under that id
                if t.reverses_id in self.reversed:
                    return AlreadyReversed.__name__
                if (orig.debit_account, orig.credit_account, orig.amount) != (
                    t.credit_account, t.debit_account, t.amount
                ):
                    return "InvalidTransfer"  # does not mirror what was posted
            d, c = self.bal[t.debit_account], self.bal[t.credit_account]
            if t.debit_account in self.clients and d[1] - d[0] - d[2] < t.amount:
                return InsufficientFunds.__name__
            if t.kind is Kind.PENDING:
                d[2] += t.amount
                c[3] += t.amount
                self.holds[t.transfer_id] = t.amount
            else:
                d[0] += t.amount
                c[1] += t.amount
            if t.reverses_id:
                self.reversed.add(t.reverses_id)
        self.done[t.transfer_id] = t
        return "created"


def _build(seq, om: int, fee: int, clients: list[int], ns: str) -> list[TransferSpec]:
    specs: list[TransferSpec] = []
    posted: list[TransferSpec] = []  # candidates for reversal
    holds: list[TransferSpec] = []
    for i, (op, a, b, amt) in enumerate(seq):
        tid = f"{ns}-{i}"
        if op == "deposit":
            s = TransferSpec(tid, om, clients[a], amt)
        elif op == "withdraw":
            s = TransferSpec(tid, clients[a], om, amt)
        elif op == "move":
            if a == b:
                continue
            s = TransferSpec(tid, clients[a], clients[b], amt)
        elif op == "fee":
            s = TransferSpec(tid, clients[a], fee, amt)
        elif op == "hold":
            s = TransferSpec(tid, clients[a], om, amt, Kind.PENDING)
            holds.append(s)
        elif op in ("post", "void"):
            if not holds:
                continue
            h = holds[a % len(holds)]
            part = h.amount * amt // 100 if op == "post" else 0
            s = TransferSpec(tid, 0, 0, part, Kind.POST if op == "post" else Kind.VOID,
                             pending_id=h.transfer_id)
        elif op in ("retry", "conflict"):
            if not specs:
                continue
            prev = specs[a % len(specs)]
            s = prev if op == "retry" else TransferSpec(
                prev.transfer_id, prev.debit_account, prev.credit_account, prev.amount + 1,
                prev.kind, prev.pending_id, prev.reverses_id)
        else:  # reverse
            if not posted:
                continue
            p = posted[a % len(posted)]
            s = TransferSpec(tid, p.credit_account, p.debit_account, p.amount,
                             reverses_id=p.transfer_id)
        if s.kind is Kind.SINGLE and s.transfer_id == tid and not s.reverses_id:
            posted.append(s)
        specs.append(s)
    return specs


def _check_sequence(ledger: Ledger, seq) -> None:
    ns = f"p{next(_ns)}"
    asset = "USDC"  # a fresh namespace of accounts per example (assets are a fixed registry)
    om, fee = ledger.omnibus_account(asset, f"{ns}:vault"), ledger.omnibus_account(asset, f"{ns}:fee")
    clients = [ledger.client_account(f"{ns}c{i}", asset) for i in range(CLIENTS)]
    specs = _build(seq, om, fee, clients, ns)
    model = Model(om, fee, clients)
    futures = [ledger.submit(s) for s in specs]  # one burst: shared group commits
    for spec, fut in zip(specs, futures, strict=True):
        expected = model.apply(spec)
        exc = fut.exception()
        if expected in ("created", "dup"):
            assert exc is None, (spec, exc)
            assert fut.result()[0].created is (expected == "created")
        else:
            assert type(exc).__name__ == expected, (spec, exc)
    for acc, want in model.bal.items():
        b = ledger.balance(acc)
        assert [b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending] == want
        if acc in clients:
            assert b.available >= 0


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seq=ops)
def test_random_sequences_keep_invariants(ledger: Ledger, seq) -> None:
    _check_sequence(ledger, seq)
    assert ledger.verify_invariants() == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=amounts, retries=st.integers(1, 5), spread=st.booleans())
def test_idempotent_retry_never_double_posts(ledger: Ledger, amount: int, retries: int,
                                             spread: bool) -> None:
    ns = f"r{next(_ns)}"
    om, c = ledger.omnibus_account("ETH", ns), ledger.client_account(ns, "ETH")
    spec = TransferSpec(f"{ns}-dep", om, c, amount)
    if spread:  # retries in separate commits
        results = [ledger.post(spec) for _ in range(retries + 1)]
    else:  # retries racing inside one group commit
        results = [f.result()[0] for f in [ledger.submit(spec) for _ in range(retries + 1)]]
    assert [r.created for r in results] == [True] + [False] * retries
    assert ledger.balance(c).credits_posted == amount


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(have=st.integers(0, 2**70), extra=st.integers(1, 2**70))
def test_overdraw_refused_changes_nothing(ledger: Ledger, have: int, extra: int) -> None:
    ns = f"o{next(_ns)}"
    om, c, d = (ledger.omnibus_account("BTC", ns), ledger.client_account(ns, "BTC"),
                ledger.client_account(ns + "x", "BTC"))
    if have:
        ledger.post(TransferSpec(f"{ns}-dep", om, c, have))
    before = ledger.balance(c), ledger.balance(d), ledger.balance(om)
    fut = ledger.submit(TransferSpec(f"{ns}-over", c, d, have + extra))
    exc = fut.exception()
    assert isinstance(exc, InsufficientFunds)
    assert exc.available == have and exc.amount == have + extra
    assert "insufficient funds" in str(exc)
    assert (ledger.balance(c), ledger.balance(d), ledger.balance(om)) == before
