"""What ATLAS does with each request, on its :class:`~scripts.services.atlas.store.Store`.

Every write is one transaction under the store's lock: validation, the idempotency check, the
balanced posting and the remembered answer commit together or not at all.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Connection, insert, select, update

from keeper.integrations.corebanking.wire import (
    CustomerIn,
    GLBatch,
    ReserveIn,
    TradeIn,
    WireIn,
    cents,
    gl_problems,
)
from scripts.services.atlas.store import (
    FEE_INCOME,
    NOSTRO,
    SETTLEMENT,
    Refused,
    Store,
    accounts,
    as_utc,
    balance,
    customer_account,
    customers,
    entries,
    notifications,
    post,
    postings,
    remember,
    replayed,
    request_hash,
    reserve_account,
    utcnow,
)
from scripts.services.atlas.store import (
    balances as running,
)


def money_key(key: str) -> str:
    """One namespace for every money movement's idempotency key, whatever the endpoint: a key
    spent on a buy cannot start a sell, a wire or a reserve move."""
    return f"money:{key}"


def _amount(value: str, *, positive: bool = True) -> int:
    try:
        out = cents(value)
    except ValueError as exc:
        raise Refused(422, "invalid_amount", str(exc)) from None
    if positive and out <= 0:
        raise Refused(422, "invalid_amount", "amount must be positive")
    return out


def _customer_out(conn: Connection, customer_id: str) -> dict[str, Any]:
    row = conn.execute(select(customers).where(customers.c.customer_id == customer_id)).first()
    if row is None:
        raise Refused(404, "unknown_customer", f"customer {customer_id!r} not found")
    return {"customer_id": row.customer_id, "name": row.name, "account_id": row.account_id,
            "balance": str(balance(conn, row.account_id))}


def create_customer(store: Store, body: CustomerIn) -> tuple[int, dict[str, Any]]:
    """Open a customer and its USD account; the same customer again answers it unchanged, a
    different name under an existing id is refused."""
    with store.write() as conn:
        row = conn.execute(select(customers).where(customers.c.customer_id == body.customer_id)).first()
        if row is not None:
            if row.name != body.name:
                raise Refused(409, "customer_exists", "customer id taken with another name")
            return 200, _customer_out(conn, body.customer_id)
        account = f"ACC-{secrets.token_hex(6).upper()}"
        conn.execute(insert(accounts).values(code=account, normal="credit",
                                             customer_id=body.customer_id))
        conn.execute(insert(customers).values(customer_id=body.customer_id, name=body.name,
                                              account_id=account, created_at=utcnow()))
        return 201, _customer_out(conn, body.customer_id)


def customer(store: Store, customer_id: str) -> dict[str, Any]:
    """A customer with its balance."""
    with store.read() as conn:
        return _customer_out(conn, customer_id)


def posting_out(conn: Connection, pid: int, kind: str, customer_id: str | None, account: str,
                amount: int, fee: int = 0) -> dict[str, Any]:
    """The answer for posting ``pid``: what it moved and ``account``'s balance after it."""
    at = conn.execute(select(postings.c.posted_at).where(postings.c.id == pid)).scalar_one()
    return {"posting_id": str(pid), "kind": kind, "customer_id": customer_id, "amount": str(amount),
            "fee": str(fee), "balance": str(balance(conn, account)), "posted_at": as_utc(at).isoformat()}


def wire_in(store: Store, key: str, body: WireIn) -> tuple[int, dict[str, Any]]:
    """Credit an incoming wire to a customer (debit nostro); earmarked for a buy, queue the
    platform's deposit notification in the same transaction (the outbox)."""
    amount = _amount(body.amount)
    digest = request_hash({"op": "wire_in", **body.model_dump()})
    with store.write() as conn:
        if (done := replayed(conn, money_key(key), digest)) is not None:
            return done
        account = customer_account(conn, body.customer_id)
        pid = post(conn, "wire_in", [(NOSTRO, amount), (account, -amount)],
                   customer_id=body.customer_id, meta={"reference": body.reference})
        out = posting_out(conn, pid, "wire_in", body.customer_id, account, amount)
        if body.earmark == "buy":
            at = utcnow()
            # unique beyond this database: the platform deduplicates on it forever
            tx = f"TX-{at:%Y-%m-%d}-{pid:05d}-{secrets.token_hex(4).upper()}"
            out["transaction_id"] = tx
            payload = {"customer_id": body.customer_id, "transaction_id": tx, "amount": str(amount),
                       "currency": "USD", "reference": body.reference,
                       "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "source_account": account}
            conn.execute(insert(notifications).values(transaction_id=tx, payload=payload,
                                                      status="pending", attempts=0,
                                                      next_attempt_at=at))
        remember(conn, money_key(key), digest, 201, out)
        return 201, out


def trade(store: Store, key: str, side: str, body: TradeIn) -> tuple[int, dict[str, Any]]:
    """``side`` ``buy``: debit the customer ``amount + fee`` (credit settlement and fee income),
    refused with 422 ``insufficient_funds`` if the account cannot pay; ``sell``: credit the
    customer ``amount - fee`` from settlement. The crypto leg is kept for reconciliation."""
    amount, fee = _amount(body.amount), _amount(body.fee, positive=False)
    if side == "sell" and fee > amount:
        raise Refused(422, "invalid_amount", "fee above the sale's proceeds")
    digest = request_hash({"op": side, **body.model_dump()})
    scope = money_key(key)
    with store.write() as conn:
        if (done := replayed(conn, scope, digest)) is not None:
            return done
        account = customer_account(conn, body.customer_id)
        if side == "buy":
            if balance(conn, account) < amount + fee:
                raise Refused(422, "insufficient_funds",
                              f"customer {body.customer_id!r} cannot pay {amount + fee} cents")
            legs = [(account, amount + fee), (SETTLEMENT, -amount), (FEE_INCOME, -fee)]
            units = int(body.asset_units)
        else:
            legs = [(SETTLEMENT, amount), (account, -(amount - fee)), (FEE_INCOME, -fee)]
            units = -int(body.asset_units)
        meta = {"reference": body.reference, "asset": body.asset, "asset_units": str(units),
                "ledger_transfer_id": body.ledger_transfer_id}
        pid = post(conn, side, legs, customer_id=body.customer_id, meta=meta)
        out = posting_out(conn, pid, side, body.customer_id, account, amount, fee)
        remember(conn, scope, digest, 201, out)
        return 201, out


def move_reserves(store: Store, key: str, asset: str, direction: str,
                  body: ReserveIn) -> tuple[int, dict[str, Any]]:
    """``fund``: settlement -> the issuer's reserves for ``asset``; ``release``: back (refused
    beyond what the reserves hold)."""
    amount = _amount(body.amount)
    reserves = reserve_account(asset)
    digest = request_hash({"op": f"reserves_{direction}", "asset": asset, **body.model_dump()})
    scope = money_key(key)
    with store.write() as conn:
        if (done := replayed(conn, scope, digest)) is not None:
            return done
        if direction == "release" and balance(conn, reserves) < amount:
            raise Refused(422, "insufficient_funds", f"reserves for {asset} hold less than {amount}")
        legs = [(SETTLEMENT, amount), (reserves, -amount)] if direction == "fund" \
            else [(reserves, amount), (SETTLEMENT, -amount)]
        pid = post(conn, f"reserves_{direction}", legs, customer_id=None,
                   meta={"reference": body.reference, "asset": asset})
        out = posting_out(conn, pid, f"reserves_{direction}", None, reserves, amount)
        remember(conn, scope, digest, 201, out)
        return 201, out


def post_gl_batch(store: Store, batch: GLBatch) -> tuple[int, dict[str, Any]]:
    """Post an EOD GL batch (idempotent on ``batch_id``): rejected whole, with every reason,
    when an account or currency is unknown, an amount malformed or debits != credits."""
    if problems := gl_problems(batch):
        raise Refused(422, "gl_batch_rejected", "; ".join(problems))
    digest = request_hash(batch.model_dump())
    scope = f"gl:{batch.batch_id}"
    with store.write() as conn:
        if (done := replayed(conn, scope, digest)) is not None:
            return done
        by_currency: dict[str, list[tuple[str, int]]] = {}
        for e in batch.entries:
            by_currency.setdefault(e.currency, []).append((e.account, cents(e.debit) - cents(e.credit)))
        at = utcnow()
        first = 0
        for currency, legs in sorted(by_currency.items()):
            pid = post(conn, "gl_batch", legs, customer_id=None, currency=currency, at=at,
                       meta={"batch_id": batch.batch_id, "posting_date": str(batch.posting_date)})
            first = first or pid
        out = {"status": "posted", "batch_id": batch.batch_id, "atlas_batch_id": f"ATLAS-GL-{first:05d}",
               "posted_at": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
        remember(conn, scope, digest, 201, out)
        return 201, out


def balances(store: Store) -> dict[str, str]:
    """Every customer's balance in cents."""
    with store.read() as conn:  # one query, one snapshot (customer accounts are credit-normal)
        joined = customers.outerjoin(running, (running.c.account == customers.c.account_id)
                                     & (running.c.currency == "USD"))
        rows = conn.execute(select(customers.c.customer_id, running.c.amount).select_from(joined)).all()
    return {c: str(-int(t or 0)) for c, t in rows}


def history(store: Store, customer_id: str) -> list[dict[str, Any]]:
    """The customer's account movements, oldest first (signed: + into the account)."""
    with store.read() as conn:
        account = customer_account(conn, customer_id)
        rows = conn.execute(
            select(postings.c.id, postings.c.kind, postings.c.posted_at, postings.c.meta,
                   entries.c.amount)
            .join(entries, entries.c.posting_id == postings.c.id)
            .where(entries.c.account == account).order_by(postings.c.id)).all()
    return [{"id": f"ATLAS-{pid}", "at": as_utc(at).isoformat(), "kind": kind, "amount": str(-amount),
             "asset": meta.get("asset"), "asset_units": meta.get("asset_units", "0"),
             "ledger_transfer_id": meta.get("ledger_transfer_id")}
            for pid, kind, at, meta, amount in rows]


def reserves(store: Store, asset: str) -> dict[str, str]:
    """Fiat held for ``asset``'s issuer."""
    with store.read() as conn:
        return {"asset": asset, "amount": str(balance(conn, reserve_account(asset)))}


def notification(store: Store, transaction_id: str) -> dict[str, Any]:
    """Where a deposit notification stands: status, attempts, the platform's answer."""
    with store.read() as conn:
        row = conn.execute(select(notifications)
                           .where(notifications.c.transaction_id == transaction_id)).first()
    if row is None:
        raise Refused(404, "not_found", f"notification {transaction_id!r} not found")
    return {"transaction_id": row.transaction_id, "status": row.status, "attempts": row.attempts,
            "http_status": row.http_status, "answer": row.answer, "payload": row.payload}


def retry_notification(store: Store, transaction_id: str) -> dict[str, Any]:
    """Operations send a ``failed`` notification again (it gets ``max_attempts`` more tries);
    any other state is refused with 409."""
    with store.write() as conn:
        done = conn.execute(update(notifications)
                            .where(notifications.c.transaction_id == transaction_id,
                                   notifications.c.status == "failed")
                            .values(status="pending", next_attempt_at=utcnow())).rowcount
    if not done:
        notification(store, transaction_id)  # 404 when unknown
        raise Refused(409, "not_failed", f"notification {transaction_id!r} has not failed")
    return notification(store, transaction_id)


__all__ = ["balances", "create_customer", "customer", "history", "money_key", "move_reserves",
           "notification", "post_gl_batch", "posting_out", "retry_notification", "reserves",
           "trade", "wire_in"]
