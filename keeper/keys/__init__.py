"""Keys: HSM signing over PKCS#11, Ethereum signing, HD (watch-only) derivation."""

from keeper.keys.ecdsa import DigestSigner, SoftwareSigner, der_encode, eth_address
from keeper.keys.eth import SafeTx, safe_tx_hash, sign_eip1559, sign_safe_tx, signer_address
from keeper.keys.secrets import PinSource, Secret

__all__ = [
    "DigestSigner",
    "PinSource",
    "SafeTx",
    "Secret",
    "SoftwareSigner",
    "der_encode",
    "eth_address",
    "safe_tx_hash",
    "sign_eip1559",
    "sign_safe_tx",
    "signer_address",
]
