"""Signing keys of HD deposit wallets, opened from an HSM-wrapped seed, in memory only.

The deposit addresses are handed out watch-only (``keeper.keys.hd.AddressRegistry``: account
xpub ``m/44'/60'/account'``, children ``.../0/i``). To pool their funds the keeper needs their
private keys: the seed is stored only wrapped by the HSM's seed-wrap key
(``AddressRegistry.store_seed``); :class:`DepositKeys` unwraps it inside the HSM, derives the
account key, checks it against the registry (a registered address must re-derive from it
before any key signs for it, so a seed of another wallet is refused), and keeps
only the account key in memory. Children are derived on demand; nothing is logged, stored or
returned but signatures (``repr`` of every key object hides the secret).
"""

from __future__ import annotations

from keeper.keys import Keyring, SoftwareSigner, signer_address
from keeper.keys.hd import AddressRegistry, ExtendedPrivateKey, parse_path
from keeper.keys.hd.registry import SeedWrapper

ETH_ACCOUNT_PATH = "m/44h/60h/0h"


class DepositKeys:
    """Signers of the registered addresses of one HD deposit wallet (see the module doc)."""

    def __init__(self, registry: AddressRegistry, wrapper: SeedWrapper, *, wallet: str,
                 seed_name: str, account_path: str = ETH_ACCOUNT_PATH) -> None:
        self.wallet, self.seed_name, self.account_path = wallet, seed_name, account_path
        seed = registry.load_seed(seed_name, wrapper)
        self._receive = ExtendedPrivateKey.from_seed(seed, "main").derive(
            [*parse_path(account_path), 0])
        del seed
        self._index: dict[str, int] = {}
        for index, address in registry.addresses(wallet):
            self._index[address.lower()] = index
        self._what = f"seed {seed_name!r} does not derive the addresses of HD wallet {wallet!r}"
        if self._index:
            self.keyring(min(self._index, key=self._index.__getitem__))  # checked at once

    def __repr__(self) -> str:
        return f"DepositKeys({len(self._index)} addresses)"

    @property
    def addresses(self) -> list[str]:
        """The wallet's registered addresses (lower-case), by child index."""
        return sorted(self._index, key=self._index.__getitem__)

    def keyring(self, address: str) -> Keyring:
        """A one-key keyring (label = the lower-case address) signing for ``address``, its public
        key pinned from the derivation; ``KeyError`` for an address not of this wallet."""
        label = address.lower()
        index = self._index[label]
        signer = SoftwareSigner(self._receive.child(index).secret)
        if signer_address(signer).lower() != label:
            raise ValueError(f"{self._what} (child {index} differs): refused")
        return Keyring({label: signer}, {label: signer.public_key()})
