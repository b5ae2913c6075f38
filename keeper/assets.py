"""The assets Strongroom custodies: one registry, used by keeper, API, scripts and tests.

The one home of asset facts: symbols, decimals, contract addresses (USDC and USDT at their real
Ethereum mainnet addresses, ETH as the zero address the Vault uses for ether) and which assets
clients can deposit through the Vault (:data:`DEPOSITABLE`). Amounts are always integers in the
asset's base unit (wei, token base units, satoshis).
"""

from __future__ import annotations

from dataclasses import dataclass

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
ETH_ADDRESS = ZERO_ADDRESS  # the Vault's token argument for ether


@dataclass(frozen=True)
class Asset:
    """One custodied asset: its symbol, chain, contract address (EVM) and decimals."""

    symbol: str
    chain: str
    decimals: int
    address: str | None = None

    @property
    def is_native(self) -> bool:
        """True for ether (the Vault's ``depositEth``), False for tokens and non-EVM assets."""
        return self.address == ETH_ADDRESS

    @property
    def is_depositable(self) -> bool:
        """True when clients deposit it through the Vault (ETH and ERC-20s on Ethereum)."""
        return self.chain == "ethereum" and self.address is not None

    def to_base_units(self, whole: int) -> int:
        """Convert a whole-unit integer amount (e.g. 5 USDC) to base units."""
        return whole * 10**self.decimals


ETH = Asset("ETH", "ethereum", 18, ETH_ADDRESS)
USDC = Asset("USDC", "ethereum", 6, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
USDT = Asset("USDT", "ethereum", 6, "0xdAC17F958D2ee523a2206206994597C13D831ec7")
BTC = Asset("BTC", "bitcoin", 8)

ASSETS: dict[str, Asset] = {a.symbol: a for a in (ETH, USDC, USDT, BTC)}
# what the Vault holds and clients deposit through it, by symbol
DEPOSITABLE: dict[str, Asset] = {s: a for s, a in ASSETS.items() if a.is_depositable}


def token_addresses() -> dict[str, str]:
    """Address by symbol of every asset the Vault holds (ETH as the zero address)."""
    return {s: a.address for s, a in DEPOSITABLE.items() if a.address is not None}


def by_symbol(symbol: str) -> Asset:
    """Look an asset up by symbol; raises KeyError with the known symbols if unknown."""
    try:
        return ASSETS[symbol.upper()]
    except KeyError:
        raise KeyError(f"unknown asset {symbol!r}; known: {sorted(ASSETS)}") from None


def by_address(address: str) -> Asset:
    """Look an EVM asset up by contract address (ETH is the zero address)."""
    wanted = address.lower()
    for asset in ASSETS.values():
        if asset.address is not None and asset.address.lower() == wanted:
            return asset
    raise KeyError(f"no custodied asset at {address}")
