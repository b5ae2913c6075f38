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

import logging
from collections.abc import Callable
from contextlib import ExitStack, closing
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from keeper.chain import VaultWithdrawals
    from keeper.keys.hsm import HsmConfig
    from keeper.ledger import Ledger

log = logging.getLogger(__name__)
HOT_KEY = "eth-hot"  # the HSM key holding the vault's CUSTOMER role; also the issuance address


def from_settings(settings: Any, engine: Engine | None = None, ledger: Ledger | None = None, *,
                  hsm: HsmConfig | Callable[[], HsmConfig | None] | None = None, w3: Any = None,
                  resources: ExitStack | None = None) -> OrderService | None:
    """The one builder of the order service from Settings (the API and the keeper's jobs).

    Core banking and the issuer (:func:`keeper.integrations.corebanking.atlas_from_settings`,
    :func:`keeper.integrations.issuer.issuer_from_settings`), compliance
    (:func:`keeper.compliance.from_settings`) and prices from the settings; with ``hsm`` (or a
    function returning it, called only then) and a deployment record for ``settings.chain_id``,
    on-chain withdrawals through a :class:`keeper.chain.VaultWithdrawals` over a
    :class:`keeper.chain.TxSender` signing with the HSM key ``eth-hot``, whose address is also
    the issuance address the issuer mints the inventory to. ``None`` when core banking or the
    issuer is not configured. What it opens (clients, keyring, ledger if not given) is closed
    by ``resources`` when given."""
    if not settings.atlas_url or not settings.issuer_url:
        return None
    from keeper import compliance
    from keeper.integrations.corebanking import atlas_from_settings
    from keeper.integrations.issuer import issuer_from_settings
    from keeper.ledger import Ledger
    from keeper.prices import StaticPrices

    stack = resources if resources is not None else ExitStack()
    if ledger is None:
        ledger = Ledger(settings.database_url)
        stack.callback(ledger.close)
    engine = engine if engine is not None else ledger.engine
    bank = stack.enter_context(closing(atlas_from_settings(settings)))
    issuer = stack.enter_context(closing(issuer_from_settings(settings)))
    if callable(hsm):  # looked up only when the service is built at all
        hsm = hsm()
    payer = vault_withdrawals(settings, engine, ledger, hsm, w3, stack) if hsm else None
    return OrderService(engine, ledger, compliance=compliance.from_settings(engine, settings),
                        bank=bank, issuer=issuer, prices=StaticPrices.from_settings(settings),
                        settings=settings, sender=payer,
                        inventory_address=None if payer is None else payer.sender.address)


def vault_withdrawals(settings: Any, engine: Engine, ledger: Ledger, hsm: HsmConfig, w3: Any,
                      stack: ExitStack) -> VaultWithdrawals | None:
    """Withdrawals from the deployed vault, sent from the HSM key ``eth-hot`` (None when
    nothing is deployed on ``settings.chain_id`` or the chain does not answer: withdrawals are
    then refused ``unavailable``)."""
    from web3 import HTTPProvider, Web3

    from keeper.chain import SenderConfig, TxSender, VaultWithdrawals
    from keeper.deployments import read_deployment
    from keeper.keys import Keyring

    deployment = read_deployment(settings.deployments_dir, settings.chain_id)
    if deployment is None or deployment.vault is None:
        return None
    w3 = w3 or Web3(HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 10}))
    keyring = Keyring.from_hsm(hsm, labels=(HOT_KEY,))
    stack.callback(keyring.close)
    try:
        sender = TxSender(engine, w3, keyring, HOT_KEY, SenderConfig.from_settings(settings),
                          on_alert=ledger.raise_alert)
    except OSError as exc:  # the node is down: no withdrawals until it answers
        log.warning("chain at %s unavailable: withdrawals disabled (%s)", settings.rpc_url,
                    type(exc).__name__)
        return None
    return VaultWithdrawals(sender, deployment.vault)


__all__ = [
    "HOT_KEY", "INVENTORY_CLIENT", "ComplianceHold", "FlowError",
    "IdempotencyConflict", "Order", "OrderNotFound", "OrderService", "Refused", "TransferItem",
    "UnknownCustomer", "fee_cents", "from_settings", "vault_withdrawals",
]
