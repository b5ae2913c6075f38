"""Safe Transaction Service-compatible signer service over our multisigs.

Public surface:

* :class:`SafeTxService` (``register_safe``, ``propose``, ``confirm``, ``get``, ``list``,
  ``delete``, ``safe_info``) with the Safe service's validation, and :class:`Proposal`;
* :class:`SafeTxExecutor` (simulate then execute fully confirmed SafeTxs with an HSM key,
  replace / expire the rest, quorum alerts) and :class:`SafeTxIndexer` (executions and owner
  changes read from the chain, own cursor);
* :class:`SafeDelegates` (the Safe service's delegates: add, list, remove; a delegate may
  propose, its signature never confirms) and :class:`DelegateRecord`;
* :class:`SafeChain` (on-chain state and signature checks), the refusals in
  :mod:`keeper.safetx.errors`, :func:`delete_message_hash` and :func:`delegate_message_hash`.

Routes: ``api/routes/safe_transactions.py`` and ``api/routes/safe_delegates.py`` (the Safe
service's paths and JSON).
"""

from keeper.safetx.chain import SafeChain, SafeState
from keeper.safetx.delegates import DelegateRecord, SafeDelegates
from keeper.safetx.errors import (
    ConfirmationRefused,
    DelegateRefused,
    DeleteRefused,
    ProposalRefused,
    SafeTxError,
    SafeUnavailable,
    UnknownSafe,
    UnknownTransaction,
)
from keeper.safetx.executor import QUORUM_UNREACHABLE, SIMULATION_FAILED, SafeTxExecutor
from keeper.safetx.indexer import RECOVERY_PENDING, SafeTxIndexer
from keeper.safetx.messages import delegate_message_hash, delete_message_hash
from keeper.safetx.models import Status
from keeper.safetx.service import Proposal, SafeTxService, hash_hex
from keeper.safetx.store import ConfirmationRecord, TxRecord

__all__ = [
    "QUORUM_UNREACHABLE", "RECOVERY_PENDING", "SIMULATION_FAILED", "ConfirmationRecord",
    "ConfirmationRefused", "DelegateRecord", "DelegateRefused", "DeleteRefused", "Proposal",
    "ProposalRefused", "SafeChain", "SafeDelegates", "SafeState", "SafeTxError",
    "SafeTxExecutor", "SafeTxIndexer", "SafeTxService", "SafeUnavailable", "Status", "TxRecord",
    "UnknownSafe", "UnknownTransaction", "delegate_message_hash", "delete_message_hash",
    "hash_hex",
]
