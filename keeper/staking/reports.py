"""Read-only views of staking positions: per client, from the mirrored tables and the ledger."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from keeper.ledger import Ledger
from keeper.staking.book import Accounts
from keeper.staking.models import (
    StakingAllocationRow,
    StakingEventRow,
    StakingPositionRow,
    StakingRequestRow,
)


def positions(ledger: Ledger, pool: str, operator: str, client_id: str | None = None) -> dict[str, Any]:
    """Per client: staked balance (ledger), positions (principal, shares, rewards, slashed,
    lock-up end), withdrawal requests (amount, unbonding date, slashed, paid) and
    distributions (each reward credited / slash debited, by block); plus the pool's omnibus
    and remainder balances. Amounts are decimal strings of wei."""
    pool = pool.lower()
    acc = Accounts(ledger, pool, operator)
    pc, qc = StakingPositionRow.__table__.c, StakingRequestRow.__table__.c
    pq = select(StakingPositionRow.__table__).where(pc.pool == pool)
    rq = select(StakingRequestRow.__table__).where(qc.pool == pool)
    if client_id is not None:
        pq, rq = pq.where(pc.client_id == client_id), rq.where(qc.client_id == client_id)
    clients: dict[str, dict[str, Any]] = {}

    def entry(cid: str) -> dict[str, Any]:
        return clients.setdefault(cid, {"positions": [], "requests": [], "distributions": []})

    ac, ec = StakingAllocationRow.__table__.c, StakingEventRow.__table__.c
    aq = select(ac.client_id, ac.amount, ec.kind, ec.block, ec.tx_hash, ec.log_index).join(
        StakingEventRow.__table__, (ec.pool == ac.pool) & (ec.tx_hash == ac.tx_hash)
        & (ec.log_index == ac.log_index)).where(ac.pool == pool)
    if client_id is not None:
        aq = aq.where(ac.client_id == client_id)
    with ledger.engine.connect() as conn:
        for r in conn.execute(aq.order_by(ec.block, ec.log_index)):
            entry(r.client_id).setdefault("distributions", []).append({
                "kind": r.kind, "amount": r.amount, "block": r.block, "tx": r.tx_hash,
                "log_index": r.log_index})
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
