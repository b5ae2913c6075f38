"""Helpers of the pooling tests: an HD deposit wallet whose seed is HSM-wrapped, funded in one
block on the fork; BTC consolidation cosigners.

``deposit_wallet(registry, wrapper, name, count)`` registers ``count`` watch-only deposit
addresses from a fresh seed (stored only wrapped). ``fund_in_one_block(w3, targets)`` gives each
target its ETH (``anvil_setBalance``) and mints its USDC with every mint in ONE mined block
(automine off while they queue), so 100+ wallets are set up in about a second.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from eth_abi import encode
from eth_utils import keccak

from keeper.assets import USDC
from keeper.keys.hd import AddressRegistry, EthBip44Deriver, ExtendedPrivateKey

MINTER = "0x00000000000000000000000000000000000B0071"


def deposit_wallet(registry: AddressRegistry, wrapper: Any, name: str, count: int) -> list[str]:
    """Register HD wallet ``name`` (account ``m/44'/60'/0'``) with ``count`` client addresses;
    its seed is stored wrapped as ``<name>-seed``. Returns the checksummed-lower addresses."""
    seed = os.urandom(32)
    account = ExtendedPrivateKey.from_seed(seed, "main").derive("m/44h/60h/0h")
    deriver = EthBip44Deriver(account.public().serialize())
    registry.register_wallet(name, deriver)
    registry.allocate_many(name, [f"client-{i}" for i in range(count)], deriver.derive_many)
    registry.store_seed(f"{name}-seed", seed, wrapper)
    return [addr for _, addr in registry.addresses(name)]


def _rpc(w3: Any, method: str, params: list[Any]) -> Any:
    reply = w3.provider.make_request(method, params)
    if "error" in reply:
        raise RuntimeError(f"{method} failed: {reply['error']}")
    return reply.get("result")


def _call(w3: Any, sender: str, to: str, data: bytes, gas: int = 200_000) -> str:
    return _rpc(w3, "eth_sendTransaction", [{"from": sender, "to": to, "data": "0x" + data.hex(),
                                             "gas": hex(gas)}])


def fund_in_one_block(w3: Any, targets: Sequence[tuple[str, int, int]]) -> None:
    """Give each ``(address, wei, usdc_units)`` its ETH and USDC (mints mined in one block)."""
    for address, wei, _ in targets:
        _rpc(w3, "anvil_setBalance", [address, hex(wei)])
    total = sum(u for _, _, u in targets)
    master = "0x" + w3.eth.call({"to": USDC.address,
                                 "data": "0x" + keccak(text="masterMinter()")[:4].hex()})[-20:].hex()
    for who in (master, MINTER):
        _rpc(w3, "anvil_impersonateAccount", [who])
        _rpc(w3, "anvil_setBalance", [who, hex(10**20)])
    _call(w3, master, USDC.address, keccak(text="configureMinter(address,uint256)")[:4]
          + encode(["address", "uint256"], [MINTER, total]))
    mint = keccak(text="mint(address,uint256)")[:4]
    _rpc(w3, "evm_setAutomine", [False])
    try:
        hashes = [_call(w3, MINTER, USDC.address, mint + encode(["address", "uint256"], [a, u]),
                        gas=120_000) for a, _, u in targets if u]
        _rpc(w3, "anvil_mine", ["0x1"])
    finally:
        _rpc(w3, "evm_setAutomine", [True])
    for h in hashes:
        assert w3.eth.get_transaction_receipt(h)["status"] == 1
    for who in (master, MINTER):
        _rpc(w3, "anvil_stopImpersonatingAccount", [who])
