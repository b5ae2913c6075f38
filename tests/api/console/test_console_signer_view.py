"""The signer queue's view functions without a chain: the EIP-712 SafeTx shown to signers hashes
to the safeTxHash the service checks; calls are decoded to integer amounts."""

from __future__ import annotations

from eth_abi import encode as abi_encode
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from api.console.signer_view import TRANSFER, decode_call, typed_data
from keeper.assets import ASSETS
from keeper.keys import SafeTx, safe_tx_hash
from keeper.safetx import SafeChain
from strongroom_testkit import ZERO_ADDRESS

SAFE = "0x8A791620dd6260079BF849Dc5567aDC3F2FdC318"
DEST = "0x000000000000000000000000000000000000dEaD"
NO_CHAIN = SafeChain("http://127.0.0.1:9", 1)  # nothing listens: whitelist unknown


def test_the_typed_data_shown_hashes_to_the_safe_tx_hash() -> None:
    usdc = ASSETS["USDC"].address
    data = TRANSFER + abi_encode(["address", "uint256"], [DEST, 2**200 + 7])
    tx = SafeTx(usdc, 0, data, 0, 1, 2, 3, ZERO_ADDRESS, DEST, 42)
    signable = encode_typed_data(full_message=typed_data(1, SAFE, tx))
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    assert digest == safe_tx_hash(1, SAFE, tx)
    assert typed_data(5, SAFE, tx)["domain"]["chainId"] == 5


def test_calls_are_decoded_in_integer_base_units() -> None:
    usdc = ASSETS["USDC"]
    data = TRANSFER + abi_encode(["address", "uint256"], [DEST, 2**200 + 7])
    erc20 = decode_call(SafeTx(usdc.address, 0, data, 0, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS, 0),
                        NO_CHAIN, None)
    assert (erc20.kind, erc20.asset, erc20.amount, erc20.destination, erc20.whitelisted) == \
        ("erc20", usdc, 2**200 + 7, DEST, None)
    eth = decode_call(SafeTx(DEST, 5, b"", 0, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS, 0),
                      NO_CHAIN, SAFE)
    assert (eth.kind, eth.amount, eth.whitelisted) == ("eth", 5, None)  # chain unreadable
    other = decode_call(SafeTx(DEST, 0, b"\x01\x02", 1, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS, 0),
                        NO_CHAIN, SAFE)
    assert other.kind == "call"
