"""The partner's side of the chain: one key per sub-account, derived from the partner's own
secret, and the withdrawals it signs and sends from those addresses.

A withdrawal is signed and stored (raw bytes and hash) before it is broadcast, so after a
crash the worker re-broadcasts the same transaction (same nonce): it is never sent twice. Gas is
paid by the sub-account's own address in ETH (reported as the withdrawal's ``fee``).
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import TransactionNotFound

from keeper.chain.calldata import erc20_transfer
from keeper.partners.chainscan import TOKENS
from scripts.services.common.chain import broadcast, fee_fields

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True)
class Signed:
    """A signed transaction ready to (re)broadcast."""

    raw: bytes
    tx_hash: str


class PartnerChain:
    """Sub-account keys and transactions on one JSON-RPC node."""

    def __init__(self, rpc_url: str, master_secret: str) -> None:
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        self._master = keccak(text=master_secret)

    def __repr__(self) -> str:
        return "PartnerChain()"

    def _key(self, client_ref: str) -> bytes:
        counter = 0
        while True:  # a digest outside 1..n-1 is astronomically rare; derive the next one
            key = keccak(self._master + client_ref.encode() + counter.to_bytes(4, "big"))
            if 0 < int.from_bytes(key, "big") < SECP256K1_N:
                return key
            counter += 1

    def address(self, client_ref: str) -> str:
        """The deposit address of ``client_ref``'s sub-account (checksummed)."""
        return str(Account.from_key(self._key(client_ref)).address)

    def head(self) -> int:
        """Current block number."""
        return int(self.w3.eth.block_number)

    def prepare(self, client_ref: str, asset: str, to: str, units: int) -> Signed:
        """Sign the withdrawal of ``units`` of ``asset`` from the sub-account to ``to``.

        Raises ``ValueError`` (nothing signed) when the node says it would fail (e.g. the
        address cannot pay the amount plus its gas)."""
        account = Account.from_key(self._key(client_ref))
        sender = account.address
        tx: dict[str, object] = {"from": sender, "chainId": self.w3.eth.chain_id,
                                 "nonce": self.w3.eth.get_transaction_count(sender, "pending")}
        if asset == "ETH":
            tx.update(to=to_checksum_address(to), value=units, data=b"")
        else:
            token = next(t for t, a in TOKENS.items() if a == asset)
            tx.update(to=to_checksum_address(token), value=0, data=erc20_transfer(to, units))
        tx.update(fee_fields(self.w3))
        tx["gas"] = int(self.w3.eth.estimate_gas(tx)) * 6 // 5  # type: ignore[arg-type]
        need = int(tx["gas"]) * int(tx["maxFeePerGas"]) + (units if asset == "ETH" else 0)  # type: ignore[call-overload]
        if int(self.w3.eth.get_balance(sender)) < need:
            raise ValueError("sub-account cannot pay the amount and its gas")
        signed = account.sign_transaction(tx)
        return Signed(bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex())

    def broadcast(self, raw: bytes) -> None:
        """Send a signed transaction; a node that already has it (or mined it) is fine."""
        broadcast(self.w3, raw)

    def mined(self, tx_hash: str) -> int | None:
        """Block number of a mined transaction, or None."""
        try:
            receipt = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        return None if receipt is None else int(receipt["blockNumber"])
