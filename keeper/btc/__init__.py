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
    UnverifiableInputError,
    combine,
    finalize,
    has_quorum,
    load_psbt,
    merge_signatures,
    sign_psbt,
    spent_output,
)
from keeper.btc.signers import FeeTooHighError, HdCosigner, KeyCosigner
from keeper.btc.store import BtcStore
from keeper.btc.verify import verify_transaction
from keeper.btc.wallet import (
    DustPaymentError,
    FeeRateTooHighError,
    InsufficientFundsError,
    MultisigWallet,
    dust_threshold,
    summarize,
)

__all__ = [
    "MAINNET",
    "REGTEST",
    "SIGNET",
    "TESTNET",
    "Broadcaster",
    "BtcStore",
    "DustPaymentError",
    "FeeRateTooHighError",
    "FeeTooHighError",
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
    "UnverifiableInputError",
    "Utxo",
    "UtxoSource",
    "combine",
    "descriptor_checksum",
    "dust_threshold",
    "fixed_key",
    "ranged_key",
    "finalize",
    "get_network",
    "has_quorum",
    "load_psbt",
    "merge_signatures",
    "sign_psbt",
    "spent_output",
    "summarize",
    "verify_transaction",
]
