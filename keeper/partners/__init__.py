"""Partner custody (Warp Data's role): segregated sub-accounts per client at a custody partner,
synchronised on a schedule and on webhook, every reported transaction verified independently
against the chain through our own node (FR-013..FR-015, SC-011, SC-013).

Public surface:

* :class:`PartnerAPI` (the role) and :class:`WarpClient` (its HTTP client); the replies
  :class:`PartnerAccount`, :class:`PartnerTx`, :class:`BalancesReport`, :class:`TransactionsPage`;
  the errors :class:`PartnerError`, :class:`PartnerUnavailable`, :class:`PartnerRateLimited`,
  :class:`PartnerRejected`, :class:`PartnerProtocolError`;
* :class:`PartnerCustody` (``open_account``, ``request_withdrawal``, ``resume_withdrawals``,
  ``sync`` -> :class:`SyncResult`, ``request_sync``, ``holdings`` -> :class:`Holding` with
  ``stale`` and ``age_s``), :func:`request_sync` (what a verified webhook does), the break
  kinds :data:`BREAK_KINDS`;
* read-only views (:mod:`keeper.partners.reads`, no partner call): :func:`holdings` (the
  last verified holdings per client, stale flag and age), :func:`breaks` -> :class:`Break`,
  :func:`deposit_addresses` (every sub-account's address -> ``<partner>:<client>``, forensics'
  ``partner:`` labels);
* :func:`partner_location` (``partner:<name>:0x..``: the one naming rule of a sub-account's
  omnibus location in the ledger);
* :func:`partner_from_settings`, :func:`webhook_secret`, :func:`verify_webhook`;
* :func:`upgrade` (the ``partners_*`` schema). CLI: ``python -m keeper.partners``.

The local partner service is ``python -m scripts.services.partner``.
"""

from keeper.partners.client import WarpClient
from keeper.partners.configured import (
    PARTNER_KEY_FILE,
    PARTNER_NAME,
    PARTNER_WEBHOOK_SECRET_FILE,
    partner_from_settings,
    webhook_secret,
)
from keeper.partners.interface import (
    BalancesReport,
    PartnerAccount,
    PartnerAPI,
    PartnerError,
    PartnerProtocolError,
    PartnerRateLimited,
    PartnerRejected,
    PartnerTx,
    PartnerUnavailable,
    TransactionsPage,
)
from keeper.partners.migrate import upgrade
from keeper.partners.postings import partner_location
from keeper.partners.reads import Break, Holding, breaks, deposit_addresses, holdings
from keeper.partners.service import PartnerCustody, SyncResult, request_sync
from keeper.partners.verify import BREAK_KINDS
from keeper.partners.webhook import WebhookSignatureError
from keeper.partners.webhook import verify as verify_webhook

__all__ = [
    "BREAK_KINDS", "BalancesReport", "Break", "Holding", "PARTNER_KEY_FILE", "PARTNER_NAME",
    "PARTNER_WEBHOOK_SECRET_FILE", "PartnerAPI", "PartnerAccount", "PartnerCustody",
    "PartnerError", "PartnerProtocolError", "PartnerRateLimited", "PartnerRejected", "PartnerTx",
    "PartnerUnavailable", "SyncResult", "TransactionsPage", "WarpClient", "WebhookSignatureError",
    "partner_from_settings", "partner_location", "request_sync", "upgrade", "verify_webhook",
    "webhook_secret", "breaks", "deposit_addresses", "holdings",
]
