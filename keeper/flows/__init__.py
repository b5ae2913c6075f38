"""Banking flows (spec 004 §4.2, §5.1, §5.2): buy, sell, on-us transfer, withdrawal orders.

Each order is a persisted state machine (``flows_orders``); every state change is one database
transaction with its audit record (``keeper.audit``), an outbox row (``flows_outbox``), the
client notice (``keeper.notifications``) and, where money moves in the sub-ledger, its postings.
External calls (core banking, issuer) carry a key derived from (order id, step), so
:meth:`OrderService.resume` after a crash repeats them without doubling anything.

Every order starts in ``screening`` (the row exists before compliance screens it, so a retry
after a crash screens the same movement) and ends ``refused`` if screening, the breaker or a
limit says no (nothing else changed). Pre-flight refusals (client status, KYC, freeze, bad
input) create no row at all; both are in the audit trail.

=========  =========================================================================
kind       states after ``screening`` (-> final)
=========  =========================================================================
transfer   completed (postings and state in one transaction) | refused
buy        accepted -> paid (USD debited in core banking) -> completed (delivered from the
           bank's inventory) | minting (issuer mints to the inventory; escalated after
           ``mint_escalate_after_s``) -> minted -> completed; minting -> refunding -> refunded
           (issuer failed: USD returned); accepted -> failed (core banking refused the debit)
sell       debited (coins moved to the inventory, atomically with the state) -> completed
           (USD net of fee credited; the bank fronts the fiat) | failed (credit refused: the
           debit is reversed)
withdraw   held (coins held for the vault operation) -> sent -> completed | queued (above the
           vault's instant budget) -> completed; refusal or revert -> failed (hold released)
burn       held (inventory coins held) -> sent (vault pays the issuer's redemption address) ->
           burning (burned; the bank fronted the clients' fiat: a receivable, escalated after
           ``receivable_escalate_after_s``) -> settled (issuer paid) | failed (revert: alert)
=========  =========================================================================

Refusals raise :class:`Refused` with a ``code``. Fees:
:func:`keeper.flows.rules.fee_cents` (0.25% rounded up to the cent).
"""

from __future__ import annotations

from keeper.flows.outbox import mark_relayed, prune_outbox
from keeper.flows.rules import fee_cents
from keeper.flows.service import INVENTORY_CLIENT, OrderService, TransferItem
from keeper.flows.store import (
    ComplianceHold,
    FlowError,
    IdempotencyConflict,
    Order,
    OrderNotFound,
    Refused,
    UnknownCustomer,
)
from keeper.flows.wiring import (
    HOT_KEY,
    ISSUANCE_KEY,
    TOKEN_KEYS,
    from_settings,
    vault_withdrawals,
)

__all__ = [
    "HOT_KEY", "INVENTORY_CLIENT", "ISSUANCE_KEY", "TOKEN_KEYS", "ComplianceHold", "FlowError",
    "IdempotencyConflict", "Order", "OrderNotFound", "OrderService", "Refused", "TransferItem",
    "UnknownCustomer", "fee_cents", "from_settings", "mark_relayed", "prune_outbox",
    "vault_withdrawals",
]
