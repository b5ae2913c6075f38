"""The audited Safe 1.4.1 suite on the local mainnet: canonical addresses, canonical code, and a
2-of-3 Safe made through the proxy factory moving USDC with two owners' EIP-712 signatures."""

from __future__ import annotations

from typing import Any

import ape
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from ethpm_types import ContractType

pytestmark = pytest.mark.fork

ZERO = "0x0000000000000000000000000000000000000000"


def instance(chain: Any, address: str, abi: list[dict[str, Any]]) -> Any:
    """An ape contract instance for an address with a given ABI."""
    return chain.contracts.instance_at(address, contract_type=ContractType.model_validate({"abi": abi}))


def safe_tx_typed_data(safe: str, chain_id: int, nonce: int, **tx: Any) -> dict[str, Any]:
    """The SafeTx EIP-712 message exactly as Safe 1.4.1 defines it."""
    message = {
        "to": tx["to"], "value": tx.get("value", 0), "data": tx.get("data", b""),
        "operation": 0, "safeTxGas": 0, "baseGas": 0, "gasPrice": 0,
        "gasToken": ZERO, "refundReceiver": ZERO, "nonce": nonce,
    }
    return {
        "types": {
            "EIP712Domain": [
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "SafeTx": [
                {"name": "to", "type": "address"}, {"name": "value", "type": "uint256"},
                {"name": "data", "type": "bytes"}, {"name": "operation", "type": "uint8"},
                {"name": "safeTxGas", "type": "uint256"}, {"name": "baseGas", "type": "uint256"},
                {"name": "gasPrice", "type": "uint256"}, {"name": "gasToken", "type": "address"},
                {"name": "refundReceiver", "type": "address"}, {"name": "nonce", "type": "uint256"},
            ],
        },
        "primaryType": "SafeTx",
        "domain": {"chainId": chain_id, "verifyingContract": safe},
        "message": message,
    }


@pytest.mark.parametrize(
    "name",
    ["Safe", "SafeL2", "SafeProxyFactory", "CompatibilityFallbackHandler", "MultiSend",
     "MultiSendCallOnly", "CreateCall", "SignMessageLib", "SimulateTxAccessor"],
)
def test_safe_contract_has_canonical_runtime_code(chain, safe_deployments, name):
    deployment = safe_deployments[name]
    code = chain.provider.get_code(deployment["address"])
    assert len(code) > 0, f"{name} missing at {deployment['address']}"
    assert "0x" + keccak(bytes(code)).hex() == deployment["codeHash"]


@pytest.fixture
def owners() -> list[Any]:
    return sorted(
        (Account.from_key(keccak(text=f"strongroom-safe-owner-{i}")) for i in range(3)),
        key=lambda acct: int(acct.address, 16),
    )


@pytest.fixture
def safe_2_of_3(chain, accounts, safe_deployments, owners):
    factory = instance(chain, safe_deployments["SafeProxyFactory"]["address"],
                       safe_deployments["SafeProxyFactory"]["abi"])
    singleton = instance(chain, safe_deployments["Safe"]["address"], safe_deployments["Safe"]["abi"])
    initializer = singleton.setup.encode_input(
        [o.address for o in owners], 2, ZERO, b"",
        safe_deployments["CompatibilityFallbackHandler"]["address"], ZERO, 0, ZERO,
    )
    receipt = factory.createProxyWithNonce(singleton.address, initializer, 7, sender=accounts[0])
    proxy_address = next(iter(receipt.decode_logs(factory.ProxyCreation))).proxy
    return instance(chain, proxy_address, safe_deployments["Safe"]["abi"])


def test_two_of_three_safe_moves_usdc_with_two_eip712_signatures(
    chain, accounts, usdc, safe_2_of_3, owners, fund
):
    safe = safe_2_of_3
    assert safe.getThreshold() == 2
    assert sorted(safe.getOwners()) == sorted(o.address for o in owners)

    minter = accounts["0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f"]  # local issuer minter
    master = accounts[usdc.masterMinter()]
    fund(master.address)
    fund(minter.address)
    usdc.configureMinter(minter.address, 10**12, sender=master)
    usdc.mint(safe.address, 5_000 * 10**6, sender=minter)
    beneficiary = accounts[5]
    before = usdc.balanceOf(beneficiary)

    data = usdc.transfer.encode_input(beneficiary.address, 1_250 * 10**6)
    nonce = safe.call_view_method("nonce")
    typed = safe_tx_typed_data(safe.address, chain.chain_id, nonce, to=usdc.address, data=data)
    tx_hash = safe.getTransactionHash(usdc.address, 0, data, 0, 0, 0, 0, ZERO, ZERO, nonce)
    signable = encode_typed_data(full_message=typed)
    assert keccak(b"\x19\x01" + signable.header + signable.body) == bytes(tx_hash)

    sigs = b"".join(o.sign_message(signable).signature for o in owners[:2])  # sorted owners
    safe.execTransaction(usdc.address, 0, data, 0, 0, 0, 0, ZERO, ZERO, sigs, sender=accounts[1])

    assert usdc.balanceOf(beneficiary) == before + 1_250 * 10**6
    assert usdc.balanceOf(safe.address) == 3_750 * 10**6
    assert safe.call_view_method("nonce") == nonce + 1


def test_one_signature_is_not_enough_and_moves_nothing(chain, accounts, safe_2_of_3, owners):
    safe = safe_2_of_3
    accounts[0].transfer(safe.address, 10**18)
    target = accounts[6]
    before = target.balance
    nonce = safe.call_view_method("nonce")
    typed = safe_tx_typed_data(safe.address, chain.chain_id, nonce, to=target.address, value=10**17)
    one_sig = owners[0].sign_message(encode_typed_data(full_message=typed)).signature
    with ape.reverts("GS020"):  # signatures data too short for threshold 2
        safe.execTransaction(target.address, 10**17, b"", 0, 0, 0, 0, ZERO, ZERO, one_sig,
                             sender=accounts[1])
    assert target.balance == before
    assert safe.call_view_method("nonce") == nonce
