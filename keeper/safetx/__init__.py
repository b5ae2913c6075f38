"""Safe Transaction Service-compatible signer service over our multisigs.

Public surface:

* :class:`SafeTxService` (``register_safe``, ``propose``, ``confirm``, ``get``, ``list``,
  ``delete``, ``safe_info``) with the Safe service's validation, and :class:`Proposal`;
* :class:`SafeTxExecutor` (simulate then execute fully confirmed SafeTxs with an HSM key,
  replace / expire the rest, quorum alerts) and :class:`SafeTxIndexer` (executions and owner
  changes read from the chain, own cursor);
* :class:`SafeChain` (on-chain state and signature checks), the refusals in
  :mod:`keeper.safetx.errors`, and :func:`delete_message_hash`.

Routes: ``api/routes/safe_transactions.py`` (the Safe service's paths and JSON).
"""

from keeper.safetx.chain import SafeChain, SafeState
from keeper.safetx.errors import (
    ConfirmationRefused,
    DeleteRefused,
    ProposalRefused,
    SafeTxError,
    SafeUnavailable,
    UnknownSafe,
    UnknownTransaction,
)
from keeper.safetx.executor import QUORUM_UNREACHABLE, SIMULATION_FAILED, SafeTxExecutor
from keeper.safetx.indexer import RECOVERY_PENDING, SafeTxIndexer
from keeper.safetx.models import Status
from keeper.safetx.service import Proposal, SafeTxService, delete_message_hash, hash_hex
from keeper.safetx.store import ConfirmationRecord, TxRecord

__all__ = [
    "QUORUM_UNREACHABLE", "RECOVERY_PENDING", "SIMULATION_FAILED", "ConfirmationRecord",
    "ConfirmationRefused", "DeleteRefused", "Proposal", "ProposalRefused", "SafeChain",
    "SafeState", "SafeTxError", "SafeTxExecutor", "SafeTxIndexer", "SafeTxService",
    "SafeUnavailable", "Status", "TxRecord", "UnknownSafe", "UnknownTransaction",
    "delete_message_hash", "hash_hex",
]
