"""Response models and field types shared by the routes.

Money is an integer number of base units (wei, token base units, satoshis) and is rendered in JSON
as a decimal *string* (``"9007199254740993"``): JSON numbers are IEEE-754 doubles in most clients
and silently lose precision above 2**53. ``decimals`` tells how to display an amount.
"""

from __future__ import annotations

import functools
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, PlainSerializer, WithJsonSchema

from keeper.assets import ASSETS, DEPOSITABLE, Asset

BaseUnits = Annotated[
    int,
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema({
        "type": "string",
        "pattern": r"^-?[0-9]+$",
        "description": "Integer amount in the asset's base units, as a decimal string.",
        "examples": ["1000000"],
    }),
]

AssetSymbol = StrEnum("AssetSymbol", {s: s for s in ASSETS})  # type: ignore[misc]
AssetSymbol.__doc__ = "A custodied asset."
DepositAsset = StrEnum("DepositAsset", {s: s for s in DEPOSITABLE})  # type: ignore[misc]
DepositAsset.__doc__ = "An asset deposited through the Vault contract."


def asset_of(symbol: StrEnum) -> Asset:
    """The registry entry of a validated asset path parameter."""
    return ASSETS[symbol.value]


class AssetInfo(BaseModel):
    """What an asset is and how to display its amounts."""

    symbol: str
    chain: str
    decimals: int
    contract_address: str | None

    @classmethod
    def of(cls, asset: Asset) -> AssetInfo:
        """Build from the asset registry (ETH has the zero address, BTC none): one shared
        instance per asset (a page of movements names a handful of assets many times)."""
        return _asset_info(asset)


@functools.cache
def _asset_info(asset: Asset) -> AssetInfo:
    return AssetInfo(symbol=asset.symbol, chain=asset.chain, decimals=asset.decimals,
                     contract_address=asset.address)
