"""Bitcoin P2WSH sortedmulti wallets and the PSBT lifecycle (python-bitcointx)."""

from keeper.btc.chain import Broadcaster, LocalChain, TransactionRejectedError, Utxo, UtxoSource
from keeper.btc.descriptor import (
    MultisigDeriver,
    MultisigDescriptor,
    descriptor_checksum,
    fixed_key,
    ranged_key,
)
from keeper.btc.network import MAINNET, REGTEST, SIGNET, TESTNET, Network, get_network
from keeper.btc.pending import PendingSpend, SpendCoordinator
from keeper.btc.psbt import (
    InvalidSignatureError,
    PsbtError,
    PsbtSummary,
    QuorumNotReachedError,
    combine,
    finalize,
    has_quorum,
    sign_psbt,
)
from keeper.btc.signers import HdCosigner, KeyCosigner
from keeper.btc.verify import verify_transaction
from keeper.btc.wallet import InsufficientFundsError, MultisigWallet, summarize

__all__ = [
    "MAINNET",
    "REGTEST",
    "SIGNET",
    "TESTNET",
    "Broadcaster",
    "HdCosigner",
    "InsufficientFundsError",
    "InvalidSignatureError",
    "KeyCosigner",
    "LocalChain",
    "MultisigDeriver",
    "MultisigDescriptor",
    "MultisigWallet",
    "Network",
    "PendingSpend",
    "PsbtError",
    "PsbtSummary",
    "QuorumNotReachedError",
    "SpendCoordinator",
    "TransactionRejectedError",
    "Utxo",
    "UtxoSource",
    "combine",
    "descriptor_checksum",
    "fixed_key",
    "ranged_key",
    "finalize",
    "get_network",
    "has_quorum",
    "sign_psbt",
    "summarize",
    "verify_transaction",
]
