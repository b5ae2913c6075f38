"""BIP32 HD wallets: watch-only deposit addresses and HSM-wrapped cosigner seeds."""

from keeper.keys.hd.bip32 import (
    HARDENED,
    ExtendedPrivateKey,
    ExtendedPublicKey,
    format_path,
    parse_path,
)
from keeper.keys.hd.derivers import AddressDeriver, EthBip44Deriver
from keeper.keys.hd.registry import (
    AddressRegistry,
    Allocation,
    DepositAddress,
    HdWallet,
    KeysBase,
    WrappedSeed,
)

__all__ = [
    "HARDENED",
    "AddressDeriver",
    "AddressRegistry",
    "Allocation",
    "DepositAddress",
    "EthBip44Deriver",
    "ExtendedPrivateKey",
    "ExtendedPublicKey",
    "HdWallet",
    "KeysBase",
    "WrappedSeed",
    "format_path",
    "parse_path",
]
