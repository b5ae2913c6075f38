"""Banking flows (spec 004 §4.2, §5.1, §5.2): buy, sell, on-us transfer, withdrawal orders.

Each order is a persisted state machine (``flows_orders``); every state change is one database
transaction with its audit record (``keeper.audit``), an outbox row (``flows_outbox``), the
client notice (``keeper.notifications``) and, where money moves in the sub-ledger, its postings.
External calls (core banking, issuer) carry a key derived from (order id, step), so
:meth:`OrderService.resume` after a crash repeats them without doubling anything.

=========  =========================================================================
kind       states (-> final)
=========  =========================================================================
transfer   completed (created atomically with its postings; refusals create nothing)
buy        accepted -> paid (USD debited in core banking) -> completed (delivered from the
           bank's inventory) | minting (issuer mints to the inventory; escalated after
           ``mint_escalate_after_s``) -> minted -> completed; minting -> refunding -> refunded
           (issuer failed: USD returned); accepted -> failed (core banking refused the debit)
sell       debited (coins moved to the inventory, atomically with the order) -> completed
           (USD net of fee credited; the bank fronts the fiat) | failed (credit refused: the
           debit is reversed)
withdraw   not enabled in this build (refused, nothing changes)
=========  =========================================================================

Refusals (:class:`Refused` with a ``code``) change nothing but their audit record. Fees:
:func:`keeper.flows.rules.fee_cents` (0.25% rounded up to the cent).
"""

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

__all__ = [
    "INVENTORY_CLIENT", "ComplianceHold", "FlowError", "IdempotencyConflict", "Order",
    "OrderNotFound", "OrderService", "Refused", "TransferItem", "UnknownCustomer", "fee_cents",
]
