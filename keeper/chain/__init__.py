"""Chain: follows vault and token events into the sub-ledger (exactly once, reorg-safe) and
sends the keeper's own transactions (crash-safe, fee-bumped) from its HSM key.

Public surface:

* :class:`ChainReader` (logsBloom-checked log reads, balances and the vault's tier wallets at a
  block), :class:`Query` (one log query) and :class:`RpcError` (the node failed or lied)
  (:mod:`keeper.chain.reader`);
* :class:`FailoverProvider` (a web3 provider over ``rpc_url`` then ``rpc_fallback_urls``:
  failing, wrong-chain and behind nodes skipped and retried later, raw transactions broadcast to
  every healthy node), :func:`web3_from_settings`, :class:`NoHealthyEndpointError`
  (:mod:`keeper.chain.endpoints`, the one home of the choice of node);
* :class:`Follower`, :class:`FollowerConfig`, and the event topics/decoder module
  :mod:`keeper.chain.events`;
* :func:`tier_location` (``tier<n>:0x..``, the one naming rule of the tier wallets' omnibus
  accounts) and :data:`TOPUP_CLIENT_REF` (the client reference of deposits from a tier);
* :func:`unconfirmed_deposits` (``(ledger, client_id) -> list[Sighting]``): the client's own
  deposits seen above the follower's cursor, not yet credited (:mod:`keeper.chain.pending`);
* :class:`TxSender` (``send(intent_id, to, data, value=0, gas=None) -> SentTx`` idempotent on
  ``intent_id``; ``tick(now=None) -> list[SentTx]`` from a job: receipts (final after
  ``confirmations``), re-broadcasts, replacements within ``SenderConfig.max_fee_wei``, one
  ``tx_stuck`` alert at the ceiling; ``status(intent_id) -> SentTx | None``),
  :class:`SenderConfig` (``from_settings()``: ``withdrawal_max_fee_gwei``,
  ``withdrawal_bump_after_s``, ``confirmations``), :class:`SentTx`, :class:`IntentConflictError`,
  :class:`WouldRevertError`;
* :class:`VaultWithdrawals` (``submit(op_id, token, to, amount) -> WithdrawalOutcome``, raising
  :class:`WithdrawalRefusedError` with a stable ``code`` and nothing sent when the simulation
  reverts; ``execute(op_id)`` pays a queued withdrawal after its eta, refused the same way;
  ``outcome(op_id) -> WithdrawalOutcome``: paid / queued (eta) / reverted (code, reason) /
  pending / delayed / dropped / unknown), :func:`reason_code`, ``REASON_CODES``.

The calldata of ERC-20 transfers/approvals and vault deposits is built in one place
(:mod:`keeper.chain.calldata`). The sender's and the sightings' tables (``chain_*``) are
migrated by :mod:`keeper.chain.migrate`.
"""

from keeper.chain.calldata import erc20_approve, erc20_transfer, vault_deposit, vault_deposit_eth
from keeper.chain.endpoints import FailoverProvider, NoHealthyEndpointError, web3_from_settings
from keeper.chain.follower import Follower, FollowerConfig
from keeper.chain.pending import Sighting, unconfirmed_deposits
from keeper.chain.postings import (
    TOPUP_CLIENT_REF,
    deposit_reference,
    deposit_sender,
    tier_location,
    vault_location,
)
from keeper.chain.reader import ChainReader, Query, RpcError
from keeper.chain.sender import IntentConflictError, SenderConfig, SentTx, TxSender, WouldRevertError
from keeper.chain.withdrawals import (
    REASON_CODES,
    VaultWithdrawals,
    WithdrawalOutcome,
    WithdrawalRefusedError,
    reason_code,
)

__all__ = [
    "ChainReader", "Query", "RpcError", "FailoverProvider", "NoHealthyEndpointError",
    "web3_from_settings",
    "REASON_CODES", "Follower", "FollowerConfig", "IntentConflictError", "SenderConfig", "SentTx",
    "TxSender", "VaultWithdrawals", "WithdrawalOutcome", "WithdrawalRefusedError", "WouldRevertError",
    "reason_code", "deposit_reference", "deposit_sender", "Sighting", "unconfirmed_deposits",
    "TOPUP_CLIENT_REF", "tier_location", "vault_location", "erc20_approve", "erc20_transfer",
    "vault_deposit", "vault_deposit_eth",
]
