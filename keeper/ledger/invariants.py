"""Ledger invariants, checked from what is stored in the database.

1. Every account's four stored totals equal the sums of the transfer legs naming it
   (posted: single + post transfers; pending: holds not yet resolved).
2. Per asset, total posted debits equal total posted credits (same for pending).
3. Every transfer's asset is the asset of both its accounts.
4. No client (no-overdraft) account has debits (posted + pending) above posted credits.

Amounts are summed in Python ints: exact for any width, and portable to SQLite where wide
amounts are stored as text (see :mod:`keeper.ledger.types`).

Every read happens in one snapshot, so writers committing meanwhile cannot produce false
violations: a read-only REPEATABLE READ transaction on PostgreSQL (its default READ COMMITTED takes
a new snapshot per statement), one read transaction on SQLite (WAL: a snapshot until it ends).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Engine, select

from keeper.ledger.domain import Kind, available
from keeper.ledger.models import Account, Transfer


def verify_invariants(engine: Engine) -> list[str]:
    """Return a list of human-readable violations; empty means the ledger is sound."""
    problems: list[str] = []
    a, t = Account.__table__.c, Transfer.__table__.c
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    holds: dict[str, int] = {}
    snapshot = ({"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
                if engine.dialect.name == "postgresql" else {})
    with engine.connect().execution_options(**snapshot) as conn, conn.begin():
        accounts = {
            r[0]: r[1:]
            for r in conn.execute(
                select(a.id, a.asset, a.no_overdraft, a.debits_posted, a.credits_posted,
                       a.debits_pending, a.credits_pending)
            )
        }
        q = select(
            t.transfer_id, t.kind, t.debit_account_id, t.credit_account_id, t.asset, t.amount,
            t.pending_id,
        ).order_by(t.id)
        for tid, kind, d, c, asset, amt, pend in conn.execution_options(yield_per=20000).execute(q):
            if accounts.get(d, (None,))[0] != asset or accounts.get(c, (None,))[0] != asset:
                problems.append(f"transfer {tid}: asset {asset} differs from its accounts'")
            if kind == Kind.PENDING:
                holds[tid] = amt
                sums[d][2] += amt
                sums[c][3] += amt
            elif kind in (Kind.POST, Kind.VOID):
                held = holds.get(pend or "")
                if held is None:
                    problems.append(f"transfer {tid}: resolves unknown hold {pend}")
                    continue
                sums[d][2] -= held
                sums[c][3] -= held
            if kind in (Kind.SINGLE, Kind.POST):
                sums[d][0] += amt
                sums[c][1] += amt
    per_asset: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for acc_id, (asset, no_overdraft, dp, cp, dpe, cpe) in accounts.items():
        stored = [dp, cp, dpe, cpe]
        if stored != sums.get(acc_id, [0, 0, 0, 0]):
            problems.append(
                f"account {acc_id}: stored totals {stored} != sum of entries {sums.get(acc_id)}"
            )
        if no_overdraft and (have := available(cp, dp, dpe)) < 0:
            problems.append(f"account {acc_id}: negative client balance ({have})")
        for i, v in enumerate(stored):
            per_asset[asset][i] += v
    for asset, (dp, cp, dpe, cpe) in per_asset.items():
        if dp != cp:
            problems.append(f"asset {asset}: posted debits {dp} != posted credits {cp}")
        if dpe != cpe:
            problems.append(f"asset {asset}: pending debits {dpe} != pending credits {cpe}")
    return problems
