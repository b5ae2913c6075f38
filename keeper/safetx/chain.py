"""What the Safe service reads from the chain: a multisig's state and its owners' signatures.

One ``SafeChain`` per process wraps a web3 connection (through safe-eth-py's
``EthereumClient``, whose ``SafeSignature`` classes validate the four signature types our
Multisig accepts: ECDSA v=27/28, eth_sign v>30, approved hash v=1, EIP-1271 contract v=0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from safe_eth.eth import EthereumClient
from safe_eth.safe.safe_signature import SafeSignature, SafeSignatureType
from safe_eth.safe.safe_tx import SafeTx as LibSafeTx
from web3.exceptions import ContractLogicError

from keeper.keys.eth import SafeTx

SUPPORTED_VERSION = "1.4.1"
ACCEPTED_TYPES = (SafeSignatureType.EOA, SafeSignatureType.ETH_SIGN,
                  SafeSignatureType.APPROVED_HASH, SafeSignatureType.CONTRACT_SIGNATURE)
EXEC_TRANSACTION = ("execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,"
                    "address,bytes)")
EXEC_TYPES = ["address", "uint256", "bytes", "uint8", "uint256", "uint256", "uint256", "address",
              "address", "bytes"]
EXEC_SELECTOR = function_signature_to_4byte_selector(EXEC_TRANSACTION)


class ChainReadError(Exception):
    """The node could not answer."""


class NotAMultisigError(ChainReadError):
    """The node answered, but the address does not speak our Multisig's interface."""


class BadSignature(ValueError):  # noqa: N818 - reads as what happened
    """A signature that does not parse, has an unsupported type or does not verify."""


@dataclass(frozen=True)
class SafeState:
    """A multisig's signing state at the latest block."""

    address: str
    nonce: int
    threshold: int
    owners: tuple[str, ...]
    version: str


@dataclass(frozen=True)
class OwnerSignature:
    """One verified signature: who signed, how, and its 65(+)-byte export."""

    owner: str
    signature_type: str  # "EOA" | "ETH_SIGN" | "APPROVED_HASH" | "CONTRACT_SIGNATURE"
    signature: bytes
    parsed: Any  # the safe-eth-py SafeSignature, re-exported in execTransaction order


def _selector(text: str) -> bytes:
    return function_signature_to_4byte_selector(text)


def exec_transaction_data(tx: SafeTx, signatures: bytes) -> bytes:
    """Calldata of ``execTransaction`` for ``tx`` with packed ``signatures``."""
    from eth_abi import encode

    return EXEC_SELECTOR + encode(EXEC_TYPES, [
        to_checksum_address(tx.to), tx.value, tx.data, tx.operation, tx.safe_tx_gas, tx.base_gas,
        tx.gas_price, to_checksum_address(tx.gas_token), to_checksum_address(tx.refund_receiver),
        signatures])


def decode_exec_transaction(calldata: bytes) -> tuple[SafeTx, bytes] | None:
    """The SafeTx fields (nonce unknown: 0) and signatures of ``execTransaction`` calldata, or
    None when ``calldata`` is not such a call."""
    if calldata[:4] != EXEC_SELECTOR:
        return None
    try:
        v = abi_decode(EXEC_TYPES, calldata[4:])
    except Exception:  # noqa: BLE001 - any undecodable input is "not an execTransaction"
        return None
    return SafeTx(to_checksum_address(v[0]), v[1], bytes(v[2]), v[3], v[4], v[5], v[6],
                  to_checksum_address(v[7]), to_checksum_address(v[8]), 0), bytes(v[9])


class SafeChain:
    """Reads multisig state and validates owner signatures against the chain at ``rpc_url``."""

    def __init__(self, rpc_url: str, chain_id: int) -> None:
        self.client = EthereumClient(rpc_url, use_request_caching=False)
        self.w3 = self.client.w3
        self.chain_id = chain_id

    def _call(self, address: str, signature: str, out: list[str], args: bytes = b"") -> Any:
        try:
            raw = self.w3.eth.call({"to": address, "data": _selector(signature) + args})
        except ContractLogicError as exc:  # the node answered: a revert
            raise NotAMultisigError(f"{signature} on {address} reverted") from exc
        except Exception as exc:  # noqa: BLE001 - connection errors and timeouts
            raise ChainReadError(f"{signature} on {address} failed: {type(exc).__name__}") from exc
        try:
            return abi_decode(out, bytes(raw))
        except Exception as exc:  # noqa: BLE001 - no code, or another contract's answer
            raise NotAMultisigError(f"{signature} on {address}: unexpected answer") from exc

    def state(self, address: str) -> SafeState:
        """Nonce, threshold, owners and VERSION of the multisig at ``address``."""
        address = to_checksum_address(address)
        (nonce,) = self._call(address, "nonce()", ["uint256"])
        (threshold,) = self._call(address, "getThreshold()", ["uint256"])
        (owners,) = self._call(address, "getOwners()", ["address[]"])
        (version,) = self._call(address, "VERSION()", ["string"])
        return SafeState(address, int(nonce), int(threshold),
                         tuple(to_checksum_address(o) for o in owners), str(version))

    def code_hash(self, address: str) -> bytes:
        """keccak of the runtime code at ``address`` (of b"" when there is none)."""
        return keccak(bytes(self.w3.eth.get_code(to_checksum_address(address))))

    def parse_signatures(self, safe: str, tx: SafeTx, digest: bytes,
                         signatures: bytes) -> list[OwnerSignature]:
        """Every signature in ``signatures`` over ``digest`` (the SafeTx hash of ``tx`` for
        ``safe``), verified; ``BadSignature`` names the first that is not acceptable."""
        preimage = LibSafeTx(
            self.client, safe, tx.to, tx.value, tx.data, tx.operation, tx.safe_tx_gas,
            tx.base_gas, tx.gas_price, tx.gas_token, tx.refund_receiver, safe_nonce=tx.nonce,
            safe_version=SUPPORTED_VERSION, chain_id=self.chain_id).safe_tx_hash_preimage
        return self._parse(safe, digest, signatures, preimage)

    def parse_message_signature(self, digest: bytes, signature: bytes) -> list[OwnerSignature]:
        """ECDSA / eth_sign signatures over an off-chain message hash (no chain check)."""
        out = self._parse(None, digest, signature, None)
        for sig in out:
            if sig.signature_type not in ("EOA", "ETH_SIGN"):
                raise BadSignature("only EOA and ETH_SIGN signatures are supported")
        return out

    def _parse(self, safe: str | None, digest: bytes, signatures: bytes,
               preimage: bytes | None) -> list[OwnerSignature]:
        try:
            parsed = SafeSignature.parse_signature(signatures, digest, safe_hash_preimage=preimage)
        except Exception as exc:  # noqa: BLE001 - hostile bytes
            raise BadSignature("signature cannot be parsed") from exc
        if not parsed or len(parsed) * 65 > len(signatures):
            raise BadSignature("no signature found")
        out: list[OwnerSignature] = []
        for sig in parsed:
            try:
                kind = sig.signature_type
                if kind not in ACCEPTED_TYPES:
                    raise BadSignature(f"signature type {kind.name} is not supported")
                owner = to_checksum_address(sig.owner)
                valid = (sig.is_valid() if safe is None and kind != SafeSignatureType.APPROVED_HASH
                         else sig.is_valid(self.client, safe, SUPPORTED_VERSION))
                exported = bytes(sig.export_signature())
            except BadSignature:
                raise
            except Exception as exc:  # noqa: BLE001 - malformed or unverifiable
                raise BadSignature("signature cannot be verified") from exc
            if not valid:
                raise BadSignature(f"signature for owner={owner} is not valid")
            out.append(OwnerSignature(owner, kind.name, exported, sig))
        return out

    @staticmethod
    def pack(signatures: list[OwnerSignature]) -> bytes:
        """The ``signatures`` argument of ``execTransaction`` (sorted by owner, dynamic parts)."""
        return bytes(SafeSignature.export_signatures([s.parsed for s in signatures]))
