"""Helpers for the Multisig tests: Safe 1.4.1 signature packing, EIP-712 hashes, artifacts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import vyper
from ape.contracts import ContractContainer
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from ethpm_types import ContractType

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
SAFE_ARTIFACTS = ROOT / "node_modules/@safe-global/safe-contracts/build/artifacts/contracts"

ZERO = "0x0000000000000000000000000000000000000000"
SENTINEL = "0x0000000000000000000000000000000000000001"
SAFE_SINGLETON = "0x41675C099F32341bf84BFc5382aF534df5C7461a"
SAFE_PROXY_FACTORY = "0x4e1DCf7AD4e460CfD30791CCC4F9c8a4f820ec67"
FALLBACK_HANDLER = "0xfd0732Dc9E303f09fCEf3a7388Ad10A83459Ec99"

DOMAIN_TYPEHASH = keccak(text="EIP712Domain(uint256 chainId,address verifyingContract)")
SAFE_TX_TYPEHASH = keccak(
    text="SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,"
    "uint256 baseGas,uint256 gasPrice,address gasToken,address refundReceiver,uint256 nonce)"
)
DAY = 86400
RECOVERY_DELAY = 30 * DAY


@dataclass(frozen=True)
class SafeTxParams:
    """The ten SafeTx fields minus the nonce, in Safe's argument order."""

    to: str
    value: int = 0
    data: bytes = b""
    operation: int = 0
    safe_tx_gas: int = 0
    base_gas: int = 0
    gas_price: int = 0
    gas_token: str = ZERO
    refund_receiver: str = ZERO

    def args(self) -> list:
        """Positional arguments of execTransaction/getTransactionHash before nonce/signatures."""
        return [
            self.to,
            self.value,
            self.data,
            self.operation,
            self.safe_tx_gas,
            self.base_gas,
            self.gas_price,
            self.gas_token,
            self.refund_receiver,
        ]


def domain_separator(chain_id: int, verifying_contract: str) -> bytes:
    """EIP-712 domain separator of a Safe >= 1.3.0."""
    return keccak(encode(["bytes32", "uint256", "address"], [DOMAIN_TYPEHASH, chain_id, verifying_contract]))


def safe_tx_struct_hash(tx: SafeTxParams, nonce: int) -> bytes:
    """hashStruct(SafeTx) computed with eth-abi."""
    return keccak(
        encode(
            [
                "bytes32",
                "address",
                "uint256",
                "bytes32",
                "uint8",
                "uint256",
                "uint256",
                "uint256",
                "address",
                "address",
                "uint256",
            ],
            [
                SAFE_TX_TYPEHASH,
                tx.to,
                tx.value,
                keccak(tx.data),
                tx.operation,
                tx.safe_tx_gas,
                tx.base_gas,
                tx.gas_price,
                tx.gas_token,
                tx.refund_receiver,
                nonce,
            ],
        )
    )


def encode_tx_data(chain_id: int, verifying_contract: str, tx: SafeTxParams, nonce: int) -> bytes:
    """Safe's encodeTransactionData: 0x1901 || domainSeparator || hashStruct."""
    return b"\x19\x01" + domain_separator(chain_id, verifying_contract) + safe_tx_struct_hash(tx, nonce)


def safe_tx_hash(chain_id: int, verifying_contract: str, tx: SafeTxParams, nonce: int) -> bytes:
    """EIP-712 SafeTx hash from the formula."""
    return keccak(encode_tx_data(chain_id, verifying_contract, tx, nonce))


def safe_tx_hash_typed_data(chain_id: int, verifying_contract: str, tx: SafeTxParams, nonce: int) -> bytes:
    """The same hash through eth_account's generic EIP-712 encoder (independent code path)."""
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "SafeTx": [
                {"name": "to", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "data", "type": "bytes"},
                {"name": "operation", "type": "uint8"},
                {"name": "safeTxGas", "type": "uint256"},
                {"name": "baseGas", "type": "uint256"},
                {"name": "gasPrice", "type": "uint256"},
                {"name": "gasToken", "type": "address"},
                {"name": "refundReceiver", "type": "address"},
                {"name": "nonce", "type": "uint256"},
            ],
        },
        "primaryType": "SafeTx",
        "domain": {"chainId": chain_id, "verifyingContract": verifying_contract},
        "message": {
            "to": tx.to,
            "value": tx.value,
            "data": tx.data,
            "operation": tx.operation,
            "safeTxGas": tx.safe_tx_gas,
            "baseGas": tx.base_gas,
            "gasPrice": tx.gas_price,
            "gasToken": tx.gas_token,
            "refundReceiver": tx.refund_receiver,
            "nonce": nonce,
        },
    }
    signable = encode_typed_data(full_message=typed)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


# --- signatures (Safe's packed format) -------------------------------------------------------


@dataclass(frozen=True)
class Sig:
    """One signature: the owner it is for, its 65-byte static part and an optional dynamic part."""

    owner: str
    static: bytes
    dynamic: bytes | None = None  # EIP-1271 signature bytes (length prefix added when packing)


def ecdsa(private_key: str, h: bytes) -> Sig:
    """v=27/28 signature of the raw hash."""
    signed = Account.unsafe_sign_hash(h, private_key)
    static = signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])
    return Sig(Account.from_key(private_key).address, static)


def eth_sign(private_key: str, h: bytes) -> Sig:
    """eth_sign signature (personal-message prefix) with v + 4, as Safe expects."""
    signed = Account.sign_message(encode_defunct(primitive=h), private_key)
    static = signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v + 4])
    return Sig(Account.from_key(private_key).address, static)


def approved(owner: str) -> Sig:
    """v=1: pre-approved hash (approveHash) or the transaction sender itself."""
    return Sig(owner, bytes(12) + bytes.fromhex(owner[2:]) + bytes(32) + b"\x01")


def contract_sig(signer_contract: str, inner_signature: bytes) -> Sig:
    """v=0: EIP-1271 contract owner; the offset (s) is filled in by `pack`."""
    return Sig(signer_contract, b"", inner_signature)


def pack(sigs: list[Sig], sort: bool = True) -> bytes:
    """Concatenate static parts (sorted by owner ascending) then EIP-1271 dynamic parts."""
    ordered = sorted(sigs, key=lambda s: int(s.owner, 16)) if sort else list(sigs)
    static, dynamic = b"", b""
    base = 65 * len(ordered)
    for sig in ordered:
        if sig.dynamic is None:
            static += sig.static
        else:
            offset = base + len(dynamic)
            static += bytes(12) + bytes.fromhex(sig.owner[2:]) + offset.to_bytes(32, "big") + b"\x00"
            dynamic += len(sig.dynamic).to_bytes(32, "big") + sig.dynamic
    return static + dynamic


# --- artifacts -------------------------------------------------------------------------------


def _container(name: str, abi: list, bytecode: str, runtime: str | None = None) -> ContractContainer:
    data = {"contractName": name, "abi": abi, "deploymentBytecode": {"bytecode": bytecode}}
    if runtime:
        data["runtimeBytecode"] = {"bytecode": runtime}
    return ContractContainer(ContractType.model_validate(data))


@cache
def safe_artifact(rel: str) -> dict:
    """A Hardhat artifact of @safe-global/safe-contracts 1.4.1 (abi + bytecode)."""
    return json.loads((SAFE_ARTIFACTS / rel).read_text())


def safe_container(rel: str) -> ContractContainer:
    """ape container for a Safe artifact, e.g. 'Safe.sol/Safe.json'."""
    art = safe_artifact(rel)
    return _container(art["contractName"], art["abi"], art["bytecode"], art["deployedBytecode"])


@cache
def vyper_artifact(path: str) -> tuple[list, str]:
    """Compile a Vyper source with the installed compiler: (abi, deploy bytecode)."""
    src = Path(path).read_text()
    out = vyper.compile_code(src, output_formats=["abi", "bytecode"])
    return out["abi"], out["bytecode"]


def vyper_container(path: Path) -> ContractContainer:
    """ape container for a Vyper file compiled in-process (test-only contracts)."""
    abi, bytecode = vyper_artifact(str(path))
    return _container(path.stem, abi, bytecode)


def checksum(addr: str) -> str:
    """EIP-55 form."""
    return to_checksum_address(addr)


# --- contract interaction ----------------------------------------------------------------


def calldata(signature: str, types: list[str], values: list) -> bytes:
    """ABI-encode a call: selector of `signature` + encoded arguments."""
    return function_signature_to_4byte_selector(signature) + encode(types, values)


def transfer_data(to: str, amount: int) -> bytes:
    """ERC-20 transfer(to, amount) calldata."""
    return calldata("transfer(address,uint256)", ["address", "uint256"], [to, amount])


def deploy_safe_proxy(chain, keeper, singleton, factory, owners: list[str], threshold: int, salt: int):
    """Create a Safe 1.4.1 proxy through the factory and return it with the Safe ABI."""
    handler = FALLBACK_HANDLER if len(chain.provider.web3.eth.get_code(FALLBACK_HANDLER)) else ZERO
    setup = singleton.setup.encode_input(owners, threshold, ZERO, b"", handler, ZERO, 0, ZERO)
    receipt = factory.createProxyWithNonce(singleton, setup, salt, sender=keeper)
    proxy = next(iter(receipt.decode_logs(factory.ProxyCreation))).proxy
    return safe_container("Safe.sol/Safe.json").at(proxy)


def msig_nonce(msig) -> int:
    """The multisig's transaction nonce (ape's `.nonce` is the account nonce)."""
    return msig.call_view_method("nonce")


def tx_hash(msig, tx: SafeTxParams, nonce: int | None = None) -> bytes:
    """getTransactionHash from the contract itself."""
    n = msig_nonce(msig) if nonce is None else nonce
    return bytes(msig.getTransactionHash(*tx.args(), n))


def sign_all(msig, tx: SafeTxParams, signers, nonce: int | None = None) -> bytes:
    """ECDSA signatures of `signers` (ape accounts) over the tx hash, packed and sorted."""
    h = tx_hash(msig, tx, nonce)
    return pack([ecdsa(a.private_key, h) for a in signers])


def execute(msig, tx: SafeTxParams, signatures: bytes, sender, **kw):
    """Send execTransaction."""
    return msig.execTransaction(*tx.args(), signatures, sender=sender, **kw)


def self_call(msig, signers, sender, data: bytes):
    """Run `data` as a call from the multisig to itself with `signers`' signatures."""
    tx = SafeTxParams(to=msig.address, data=data)
    return execute(msig, tx, sign_all(msig, tx, signers), sender)


def assert_reverts(
    contract,
    method: str,
    args: list,
    sender,
    reason: str | None,
    *,
    value: int = 0,
    gas: int = 3_000_000,
    send: bool = True,
) -> None:
    """Assert `contract.method(*args)` reverts with exactly `reason` (None: any/no reason).

    Uses web3 directly (eth_call for the reason, then a mined transaction with a fixed gas limit
    whose receipt must have status 0): ape's revert enrichment costs ~2 s per revert on the fork.
    `send=False` only simulates (for view functions).
    """
    from web3.exceptions import ContractLogicError

    w3 = contract.provider.web3 if hasattr(contract, "provider") else None
    if w3 is None:  # pragma: no cover - ape contracts always have a provider
        raise RuntimeError("no web3")
    data = getattr(contract, method).encode_input(*args)
    tx = {"from": sender.address, "to": contract.address, "data": data, "value": value, "gas": gas}
    try:
        w3.eth.call(tx)
    except ContractLogicError as err:
        expected = "execution reverted" if reason is None else f"execution reverted: {reason}"
        if reason is not None:
            assert err.message == expected, err.message
    else:
        raise AssertionError(f"{method} did not revert")
    if send:
        receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))
        assert receipt["status"] == 0
