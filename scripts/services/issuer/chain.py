"""The issuer's side of the chain: its minter key, USDC mint/burn transactions, deposit checks.

Transactions are signed locally with the issuer's own secp256k1 key and stored (raw bytes and
hash) before they are broadcast, so after a crash the worker re-broadcasts the same signed
transaction (same nonce) instead of signing a second one: a mint is never sent twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_utils import to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound

from keeper.assets import USDC
from scripts.services.common.chain import broadcast, fee_fields

TOKEN_ABI: list[dict[str, Any]] = [
    {"type": "function", "name": n, "stateMutability": m, "inputs": [{"name": a, "type": t} for a, t in i],
     "outputs": [{"name": "", "type": o} for o in out]}
    for n, m, i, out in [
        ("mint", "nonpayable", [("_to", "address"), ("_amount", "uint256")], ["bool"]),
        ("burn", "nonpayable", [("_amount", "uint256")], []),
        ("configureMinter", "nonpayable", [("minter", "address"), ("minterAllowedAmount", "uint256")],
         ["bool"]),
        ("masterMinter", "view", [], ["address"]),
        ("minterAllowance", "view", [("minter", "address")], ["uint256"]),
        ("totalSupply", "view", [], ["uint256"]),
        ("balanceOf", "view", [("account", "address")], ["uint256"]),
    ]
]
TRANSFER_TOPIC = Web3.keccak(text="Transfer(address,address,uint256)")


class Reverted(Exception):  # noqa: N818 - domain names read better
    """The token would refuse the call (its revert reason is the message)."""


@dataclass(frozen=True)
class Signed:
    """A signed transaction ready to (re)broadcast."""

    raw: bytes
    tx_hash: str
    nonce: int


class IssuerChain:
    """The token and the issuer's minter key on one JSON-RPC node."""

    def __init__(self, rpc_url: str, private_key: str, token: str = str(USDC.address)) -> None:
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        self._account = Account.from_key(private_key)
        self.address = self._account.address
        self.token = self.w3.eth.contract(address=to_checksum_address(token), abi=TOKEN_ABI)

    def __repr__(self) -> str:
        return f"IssuerChain(minter={self.address})"

    def total_supply(self, block: int | str = "latest") -> int:
        """The token's totalSupply at ``block``."""
        return int(self.token.functions.totalSupply().call(block_identifier=block))

    def head(self) -> int:
        """Current block number."""
        return int(self.w3.eth.block_number)

    def prepare(self, fn_name: str, *args: Any) -> Signed:
        """Simulate then sign ``token.fn_name(*args)`` from the minter at its next nonce.

        Raises :class:`Reverted` (nothing signed) when the token would refuse it.
        """
        fn = getattr(self.token.functions, fn_name)(*args)
        try:
            gas = fn.estimate_gas({"from": self.address})
        except ContractLogicError as exc:
            raise Reverted(str(exc.message or exc)) from None
        tx = fn.build_transaction({
            "from": self.address, "nonce": self.w3.eth.get_transaction_count(self.address, "pending"),
            "gas": gas * 6 // 5, **fee_fields(self.w3),  # type: ignore[typeddict-item]
            "chainId": self.w3.eth.chain_id})
        signed = self._account.sign_transaction(tx)
        return Signed(bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex(), int(tx["nonce"]))

    def broadcast(self, raw: bytes) -> None:
        """Send a signed transaction; a node that already has it (or mined it) is fine."""
        broadcast(self.w3, raw)

    def confirmations(self, tx_hash: str) -> tuple[int, bool] | None:
        """(confirmations, succeeded) of a mined transaction, or None while unmined."""
        try:
            receipt = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        if receipt is None or receipt.get("blockNumber") is None:
            return None
        return self.head() - int(receipt["blockNumber"]) + 1, int(receipt["status"]) == 1

    def known(self, tx_hash: str) -> bool:
        """True when the node knows the transaction (pending or mined)."""
        try:
            return self.w3.eth.get_transaction(tx_hash) is not None  # type: ignore[arg-type]
        except TransactionNotFound:
            return False

    def nonce_used(self, nonce: int) -> bool:
        """True when the minter's mined nonce is past ``nonce``."""
        return int(self.w3.eth.get_transaction_count(self.address, "latest")) > nonce

    def find_deposit(self, tx_hash: str, source: str, units: int) -> tuple[int, int] | None:
        """(log index, confirmations) of a token Transfer ``source`` -> minter of exactly ``units``
        in ``tx_hash`` (a successful, mined transaction), else None."""
        try:
            receipt = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except (TransactionNotFound, ValueError):
            return None
        if receipt is None or int(receipt["status"]) != 1:
            return None
        for log in receipt["logs"]:
            topics = log["topics"]
            if (log["address"].lower() == self.token.address.lower() and len(topics) == 3
                    and bytes(topics[0]) == bytes(TRANSFER_TOPIC)
                    and _topic_address(topics[1]) == source.lower()
                    and _topic_address(topics[2]) == self.address.lower()
                    and int.from_bytes(bytes(log["data"]), "big") == units):
                return int(log["logIndex"]), self.head() - int(receipt["blockNumber"]) + 1
        return None


def _topic_address(topic: Any) -> str:
    return "0x" + bytes(topic)[-20:].hex()


def configure_minter_on_fork(rpc_url: str, minter: str, allowance: int,
                             token: str = str(USDC.address)) -> None:
    """On an anvil fork: impersonate the token's masterMinter to ``configureMinter(minter,
    allowance)`` and give ``minter`` ETH for gas. Test and local-stack set-up only."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    contract = w3.eth.contract(address=to_checksum_address(token), abi=TOKEN_ABI)
    master = contract.functions.masterMinter().call()
    minter = to_checksum_address(minter)
    for who in (master, minter):
        _rpc(w3, "anvil_setBalance", [who, hex(10**20)])
    _rpc(w3, "anvil_impersonateAccount", [master])
    try:
        tx_hash = contract.functions.configureMinter(minter, allowance).transact({"from": master})
        if w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)["status"] != 1:
            raise RuntimeError("configureMinter reverted")
    finally:
        _rpc(w3, "anvil_stopImpersonatingAccount", [master])


def _rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    reply = w3.provider.make_request(method, params)  # type: ignore[arg-type]
    if "error" in reply:
        raise RuntimeError(f"{method} failed: {reply['error']}")
    return reply.get("result")
