"""What moved on chain at a set of addresses, read straight from an Ethereum node.

The one reader of partner-address movements, used by the keeper's independent verification
(through OUR node) and by the local partner service (through its own): ERC-20 ``Transfer`` logs
of the custodied tokens and ETH value transfers, internal calls included (``trace_filter`` /
``trace_transaction``), of successful transactions only. Amounts are integer base units.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3
from web3.exceptions import TransactionNotFound

from keeper.assets import USDC, USDT
from keeper.chain.events import TRANSFER as TRANSFER_TOPIC

TOKENS: Mapping[str, str] = {USDC.address.lower(): "USDC", USDT.address.lower(): "USDT"}
"""Token contract (lower-case) -> asset symbol: the ERC-20s a partner may hold for us."""
ASSETS = ("ETH", "USDC", "USDT")


@dataclass(frozen=True, slots=True)
class Move:
    """One movement of ``amount`` base units of ``asset`` from ``sender`` to ``recipient``
    (lower-case addresses) in ``tx_hash`` at ``block``; ``key`` is unique per movement
    (``<tx>:<log index>`` for a token, ``<tx>:t<trace address>`` for ETH)."""

    key: str
    tx_hash: str
    block: int
    asset: str
    amount: int
    sender: str
    recipient: str
    log_index: int | None


@dataclass(frozen=True, slots=True)
class TxFacts:
    """A mined transaction as the node reports it: success, block, signer, the gas fee it paid
    (wei) and its movements of custodied assets."""

    tx_hash: str
    block: int
    ok: bool
    sender: str
    fee: int
    moves: tuple[Move, ...]


def _hex(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text


def _topic_address(address: str) -> str:
    return "0x" + "0" * 24 + address.lower().removeprefix("0x")


def _log_move(log: Mapping[str, Any]) -> Move | None:
    asset = TOKENS.get(str(log["address"]).lower())
    topics = [_hex(t) for t in log["topics"]]
    if asset is None or len(topics) != 3 or topics[0].lower() != TRANSFER_TOPIC:
        return None
    data = bytes.fromhex(_hex(log["data"])[2:])
    tx = _hex(log["transactionHash"]).lower()
    index = int(log["logIndex"])
    return Move(f"{tx}:{index}", tx, int(log["blockNumber"]), asset, int.from_bytes(data, "big"),
                "0x" + topics[1][-40:].lower(), "0x" + topics[2][-40:].lower(), index)


def _trace_move(trace: Mapping[str, Any]) -> Move | None:
    action = trace.get("action") or {}
    if trace.get("type") != "call" or trace.get("error") or action.get("callType") not in (
            "call", None):
        return None
    value = int(str(action.get("value", "0x0")), 16)
    if value == 0:
        return None
    tx = _hex(trace["transactionHash"]).lower()
    where = ".".join(str(i) for i in trace.get("traceAddress") or [])
    return Move(f"{tx}:t{where}", tx, int(trace["blockNumber"]), "ETH", value,
                str(action["from"]).lower(), str(action["to"]).lower(), None)


def _rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    reply = w3.provider.make_request(method, params)  # type: ignore[arg-type]
    if "error" in reply:
        raise RuntimeError(f"{method} failed: {reply['error']}")
    return reply.get("result")


SCAN_BLOCKS = 256  # blocks per node query (anvil caps trace_filter at 300)


def scan(w3: Web3, addresses: Iterable[str], start: int, end: int) -> list[Move]:
    """Every movement of a custodied asset to or from ``addresses`` in blocks ``start..end``
    (inclusive) of successful transactions, in chain order (read :data:`SCAN_BLOCKS` at a time)."""
    addrs = sorted({a.lower() for a in addresses})
    out: list[Move] = []
    for lo in range(start, end + 1, SCAN_BLOCKS) if addrs else ():
        out += _scan(w3, addrs, lo, min(end, lo + SCAN_BLOCKS - 1))
    return out


def _scan(w3: Web3, addrs: list[str], start: int, end: int) -> list[Move]:
    found: dict[str, Move] = {}
    topics = [_topic_address(a) for a in addrs]
    tokens = [to_checksum_address(t) for t in TOKENS]
    for position in (1, 2):  # sender, then recipient
        flt: list[Any] = [TRANSFER_TOPIC, None, None]
        flt[position] = topics
        for log in w3.eth.get_logs({"fromBlock": start, "toBlock": end, "address": tokens,
                                    "topics": flt}):  # type: ignore[typeddict-item]
            move = _log_move(log)
            if move is not None:
                found[move.key] = move
    eth: dict[str, Move] = {}
    for side in ("fromAddress", "toAddress"):
        for trace in _rpc(w3, "trace_filter", [{"fromBlock": hex(start), "toBlock": hex(end),
                                                side: addrs}]) or []:
            move = _trace_move(trace)
            if move is not None and (move.sender in addrs or move.recipient in addrs):
                eth[move.key] = move
    failed = {tx for tx in {m.tx_hash for m in eth.values()} if not _succeeded(w3, tx)}
    found.update({k: m for k, m in eth.items() if m.tx_hash not in failed})
    return sorted(found.values(), key=lambda m: (m.block, m.tx_hash, m.key))


def _succeeded(w3: Web3, tx_hash: str) -> bool:
    receipt = w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    return int(receipt["status"]) == 1


def tx_facts(w3: Web3, tx_hash: str) -> TxFacts | None:
    """The mined transaction ``tx_hash`` with its custodied-asset movements, or None when the
    node does not know it (never sent, or not mined)."""
    try:
        receipt = w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    except (TransactionNotFound, ValueError):
        return None
    if receipt is None or receipt.get("blockNumber") is None:
        return None
    ok = int(receipt["status"]) == 1
    fee = int(receipt["gasUsed"]) * int(receipt.get("effectiveGasPrice") or 0)
    moves: list[Move] = []
    if ok:
        moves += [m for m in map(_log_move, receipt["logs"]) if m is not None]
        traces = _rpc(w3, "trace_transaction", [tx_hash]) or []
        moves += [m for m in map(_trace_move, traces) if m is not None]
    return TxFacts(_hex(receipt["transactionHash"]).lower(), int(receipt["blockNumber"]), ok,
                   str(receipt["from"]).lower(), fee, tuple(moves))


def balance_of(w3: Web3, address: str, asset: str, block: int) -> int:
    """``address``'s balance of ``asset`` (base units) at ``block``."""
    checksum = to_checksum_address(address)
    if asset == "ETH":
        return int(w3.eth.get_balance(checksum, block_identifier=block))
    token = next(t for t, a in TOKENS.items() if a == asset)
    data = "0x70a08231" + _topic_address(address)[2:]
    out = w3.eth.call({"to": to_checksum_address(token), "data": data},  # type: ignore[typeddict-item]
                      block_identifier=block)
    return int.from_bytes(bytes(out), "big")
