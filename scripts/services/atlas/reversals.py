"""Reversing a buy's debit: the customer's fiat and the fee come back exactly, once.

A buy debit posted ``customer +(amount + fee)``, ``settlement -amount``, ``fee income -fee``;
its reversal posts each of those entries negated, so the fee stops being income. The reversal
carries the trade's crypto leg negated under the same ``ledger_transfer_id``: reconciliation
nets the trade and its reversal to nothing. One transaction under the store's lock: the
idempotency check, the one-reversal rule (a primary key on the reversed posting), the posting
and the remembered answer commit together or not at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from keeper.integrations.corebanking.wire import ReverseIn
from scripts.services.atlas.ops import money_key, posting_out
from scripts.services.atlas.store import (
    FEE_INCOME,
    Refused,
    Store,
    customer_account,
    entries,
    post,
    postings,
    remember,
    replayed,
    request_hash,
    reversals,
)

KIND = "buy_reversal"


def reverse_debit(store: Store, key: str, posting_id: int, body: ReverseIn) -> tuple[int, dict[str, Any]]:
    """Reverse buy debit ``posting_id`` (idempotent on ``key``). Refused with 404
    ``unknown_debit`` when no buy debit has that id, 409 ``already_reversed`` when it was
    reversed under another key; nothing is written then."""
    digest = request_hash({"op": "reverse_debit", "posting_id": posting_id, **body.model_dump()})
    scope = money_key(key)
    with store.write() as conn:
        if (done := replayed(conn, scope, digest)) is not None:
            return done
        original = conn.execute(select(postings).where(postings.c.id == posting_id,
                                                       postings.c.kind == "buy")).first()
        if original is None:
            raise Refused(404, "unknown_debit", f"no buy debit {posting_id}")
        if conn.execute(select(reversals.c.reversal_id)
                        .where(reversals.c.posting_id == posting_id)).first() is not None:
            raise Refused(409, "already_reversed", f"buy debit {posting_id} is already reversed")
        legs = [(acc, -int(amount)) for acc, amount in conn.execute(
            select(entries.c.account, entries.c.amount).where(entries.c.posting_id == posting_id)
            .order_by(entries.c.id))]
        fee = sum(amount for acc, amount in legs if acc == FEE_INCOME)
        account = customer_account(conn, original.customer_id)
        paid = -sum(amount for acc, amount in legs if acc == account)
        meta = dict(original.meta)
        meta.update(reference=body.reference, reverses=str(posting_id),
                    asset_units=str(-int(meta.get("asset_units", "0"))))
        pid = post(conn, KIND, legs, customer_id=original.customer_id, meta=meta)
        conn.execute(insert(reversals).values(posting_id=posting_id, reversal_id=pid))
        out = posting_out(conn, pid, KIND, original.customer_id, account, paid - fee, fee)
        out["reverses"] = str(posting_id)
        remember(conn, scope, digest, 201, out)
        return 201, out
