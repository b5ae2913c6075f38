"""Keys: HSM signing over PKCS#11, Ethereum signing, HD (watch-only) derivation.

Public surface for signing: ``Keyring`` (sign an EIP-1559 transaction, an EIP-712 / Safe hash
or a BTC sighash by key label; every signature verified against the key pinned at enrolment).
HSM plumbing lives in ``keeper.keys.hsm``, HD derivation and ``parse_path`` in ``keeper.keys.hd``.
"""

from keeper.keys.ecdsa import DigestSigner, SoftwareSigner, der_encode, eth_address
from keeper.keys.eth import (
    SafeTx,
    safe_tx_hash,
    sign_eip1559,
    sign_hash,
    sign_safe_tx,
    signer_address,
)
from keeper.keys.hsm.errors import HsmUnavailableError, KeyMismatchError
from keeper.keys.keyring import Keyring, PinnedSigner
from keeper.keys.secrets import PinSource, Secret

__all__ = [
    "DigestSigner",
    "HsmUnavailableError",
    "KeyMismatchError",
    "Keyring",
    "PinSource",
    "PinnedSigner",
    "SafeTx",
    "Secret",
    "SoftwareSigner",
    "der_encode",
    "eth_address",
    "safe_tx_hash",
    "sign_eip1559",
    "sign_hash",
    "sign_safe_tx",
    "signer_address",
]
