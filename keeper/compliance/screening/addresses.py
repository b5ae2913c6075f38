"""Crypto address normalisation: the one key used to store and to look up a listed address.

* Ethereum-style (``0x`` + 40 hex; ETH, ETC, BSC, ARB, USDT/USDC on Ethereum): lower-cased, so an
  EIP-55 checksummed, all-upper or all-lower spelling of one address is one key. The checksum is
  not enforced here: a mistyped checksum is still screened (refusing to screen it would be worse).
* Bech32/bech32m (``bc1``, ``tb1``, ``bcrt1``, ``ltc1``): lower-cased; a mixed-case bech32 string
  is invalid by BIP 173 and refused.
* Base58 (legacy BTC ``1...``/``3...``, TRX, ...) and anything else: case-sensitive, kept as is.

Lookups are currency-agnostic: the same key controls the address on every EVM chain.
"""

from __future__ import annotations

import re

_HEX = re.compile(r"0[xX][0-9a-fA-F]{40}")
_BECH32 = re.compile(r"(bc|tb|bcrt|ltc|tltc)1[02-9ac-hj-np-z]{6,87}", re.IGNORECASE)
MAX_ADDRESS_LENGTH = 128


def normalise_address(raw: str) -> str:
    """The lookup key of ``raw``; ``ValueError`` for something that cannot be an address."""
    address = raw.strip()
    if (not address or len(address) > MAX_ADDRESS_LENGTH or not address.isascii()
            or not address.isprintable() or " " in address):  # printable ASCII: " " is the only space
        raise ValueError(f"not an address: {raw[:MAX_ADDRESS_LENGTH]!r}")
    if _HEX.fullmatch(address):
        return address.lower()
    if _BECH32.fullmatch(address):
        if address != address.lower() and address != address.upper():
            raise ValueError(f"mixed-case bech32 address: {address!r}")
        return address.lower()
    return address
