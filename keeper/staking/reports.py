"""Read-only views of staking positions: per client, from the mirrored tables and the ledger."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from keeper.ledger import Ledger
from keeper.staking.book import Accounts
from keeper.staking.models import StakingPositionRow, StakingRequestRow


def positions(ledger: Ledger, pool: str, operator: str, client_id: str | None = None) -> dict[str, Any]:
    """Per client: staked balance (ledger), positions (principal, shares, rewards, slashed,
    lock-up end) and withdrawal requests (amount, unbonding date, slashed, paid); plus the
    pool's omnibus and remainder balances. Amounts are decimal strings of wei."""
    pool = pool.lower()
    acc = Accounts(ledger, pool, operator)
    pc, qc = StakingPositionRow.__table__.c, StakingRequestRow.__table__.c
    pq = select(StakingPositionRow.__table__).where(pc.pool == pool)
    rq = select(StakingRequestRow.__table__).where(qc.pool == pool)
    if client_id is not None:
        pq, rq = pq.where(pc.client_id == client_id), rq.where(qc.client_id == client_id)
    clients: dict[str, dict[str, Any]] = {}

    def entry(cid: str) -> dict[str, Any]:
        return clients.setdefault(cid, {"positions": [], "requests": []})

    with ledger.engine.connect() as conn:
        for r in conn.execute(pq.order_by(pc.position_id)):
            entry(r.client_id)["positions"].append({
                "position": r.position_id, "principal": r.principal, "shares": r.shares,
                "rewards": r.rewards, "slashed": r.slashed, "locked_until": r.locked_until})
        for r in conn.execute(rq.order_by(qc.request_id)):
            entry(r.client_id)["requests"].append({
                "request": r.request_id, "position": r.position_id, "amount": r.amount,
                "slashed": r.slashed, "claimable_at": r.claimable_at, "status": r.status,
                "paid": r.paid})
    for cid, item in clients.items():
        item["staked"] = str(ledger.balance(acc.staked(cid)).credit_balance)
    return {"pool": pool, "clients": clients,
            "omnibus": str(-ledger.balance(acc.om).credit_balance),
            "remainder": str(ledger.balance(acc.remainder).credit_balance)}
