"""Watch-only address derivers: ETH BIP44 from an account xpub."""

from __future__ import annotations

from typing import Protocol

import coincurve
from eth_utils import keccak, to_checksum_address

from keeper.keys.hd.bip32 import HARDENED, ExtendedPublicKey


class AddressDeriver(Protocol):
    """Derives the deposit address for a child index from public material only."""

    chain: str
    #: Public description stored in the registry (xpub or output descriptor); never private.
    public_descriptor: str

    def derive(self, index: int) -> str:
        """Address of child ``index`` on the receive branch."""
        ...


class EthBip44Deriver:
    """ETH deposit addresses ``m/44'/60'/account'/0/i`` from the account-level xpub."""

    chain = "eth"

    def __init__(self, account_xpub: str) -> None:
        self._account = ExtendedPublicKey.parse(account_xpub)
        if self._account.depth != 3 or self._account.child_number < HARDENED:
            raise ValueError(
                "need the account-level xpub of m/44'/60'/account' (depth 3, hardened); got "
                f"depth {self._account.depth}"
            )
        self._receive = self._account.child(0)
        self.public_descriptor = account_xpub

    def derive(self, index: int) -> str:
        """Checksummed address of ``.../0/index``."""
        key = self._receive.child(index).key
        raw = coincurve.PublicKey(key).format(compressed=False)[1:]
        return to_checksum_address(keccak(raw)[-20:])

    def derive_many(self, start: int, count: int) -> list[str]:
        """Addresses for indices ``start .. start+count-1`` (lower-case hex, fast path)."""
        out = []
        recv = self._receive
        for i in range(start, start + count):
            raw = coincurve.PublicKey(recv.child(i).key).format(compressed=False)[1:]
            out.append("0x" + keccak(raw)[-20:].hex())
        return out
