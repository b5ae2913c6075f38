"""Calldata of the few contract calls the keeper makes or proposes: ERC-20 ``transfer`` and
``approve``, and the Vault's ``deposit`` / ``depositEth`` under a bytes32 client reference.
The one place these selectors and argument layouts are written."""

from __future__ import annotations

from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector

TRANSFER = function_signature_to_4byte_selector("transfer(address,uint256)")
APPROVE = function_signature_to_4byte_selector("approve(address,uint256)")
DEPOSIT = function_signature_to_4byte_selector("deposit(address,uint256,bytes32)")
DEPOSIT_ETH = function_signature_to_4byte_selector("depositEth(bytes32)")


def erc20_transfer(to: str, units: int) -> bytes:
    """``transfer(to, units)`` of an ERC-20."""
    return TRANSFER + abi_encode(["address", "uint256"], [to, units])


def erc20_approve(spender: str, units: int) -> bytes:
    """``approve(spender, units)`` of an ERC-20."""
    return APPROVE + abi_encode(["address", "uint256"], [spender, units])


def vault_deposit(token: str, units: int, ref: bytes) -> bytes:
    """The Vault's ``deposit(token, units, ref)`` (``ref``: the 32-byte client reference)."""
    return DEPOSIT + abi_encode(["address", "uint256", "bytes32"], [token, units, ref])


def vault_deposit_eth(ref: bytes) -> bytes:
    """The Vault's ``depositEth(ref)`` (the ether is the call's value)."""
    return DEPOSIT_ETH + abi_encode(["bytes32"], [ref])
