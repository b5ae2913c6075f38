"""JSON-RPC reads of the follower, distrustful of the node.

* ``eth_getLogs`` ranges are split in halves when the provider refuses them (too many results,
  range too large, timeout) or answers exactly ``max_logs`` logs (a silent cap).
* Completeness (decided here, one rule): every block header of the range is read *after* the
  logs, and its ``logsBloom`` is tested for each query (emitter address + topic0, plus the vault
  as a topic for token transfers). A block whose bloom says "maybe" but for which the node
  returned no log (a lagging or load-balanced node answering ``[]`` for a block it has not
  indexed) is re-read from its receipts (``eth_getBlockReceipts`` by block hash, else each
  transaction's receipt), which are authoritative for that exact block; a bloom false positive
  then simply yields nothing. If the receipts are unavailable too, the range fails and is
  retried (the job escalates): the cursor never passes it.
* Headers are read in JSON-RPC batches.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eth_utils import function_signature_to_4byte_selector, keccak
from web3 import Web3

BATCH = 256
TIERS = (1, 2)  # the vault's custody tiers: 1 = warm, 2 = cold
_TIER_ADDRESS = "0x" + function_signature_to_4byte_selector("tier_address(uint8)").hex()


class RpcError(RuntimeError):
    """The node answered a JSON-RPC error."""


def bloom_bits(value: bytes) -> tuple[int, int, int]:
    """The three bloom bit indexes (0..2047, counted from the low end) of ``value``."""
    h = keccak(value)
    return tuple(((h[i] << 8) | h[i + 1]) & 2047 for i in (0, 2, 4))  # type: ignore[return-value]


def in_bloom(bloom: int, bits: Iterable[int]) -> bool:
    """True if every bit is set in the 2048-bit ``bloom`` (as an int)."""
    return all(bloom >> b & 1 for b in bits)


class Query:
    """One ``eth_getLogs`` filter (addresses, topics) and its bloom test."""

    def __init__(self, addresses: list[str], topics: list[Any]) -> None:
        self.addresses, self.topics = addresses, topics
        self._addr_bits = [bloom_bits(bytes.fromhex(a[2:])) for a in addresses]
        self._topic_bits: list[list[tuple[int, int, int]]] = []
        for pos in topics:  # each position: None, one topic, or a list of alternatives
            if pos is None:
                continue
            alts = pos if isinstance(pos, list) else [pos]
            self._topic_bits.append([bloom_bits(bytes.fromhex(x[2:])) for x in alts])

    def maybe_in(self, bloom: int) -> bool:
        """Could a block with ``bloom`` hold a log matching this query?"""
        if not any(in_bloom(bloom, b) for b in self._addr_bits):
            return False
        return all(any(in_bloom(bloom, b) for b in alts) for alts in self._topic_bits)

    def matches(self, log: dict[str, Any]) -> bool:
        """Does ``log`` match this filter (used on receipts' logs)?"""
        if log["address"].lower() not in self.addresses:
            return False
        t = [x.lower() for x in log["topics"]]
        for i, pos in enumerate(self.topics):
            if pos is None:
                continue
            alts = pos if isinstance(pos, list) else [pos]
            if i >= len(t) or t[i] not in alts:
                return False
        return True


class ChainReader:
    """The follower's view of one node."""

    def __init__(self, w3: Web3, max_logs: int = 10_000) -> None:
        self.w3, self.max_logs = w3, max_logs
        self.splits = 0
        self.receipt_reads = 0

    def rpc(self, method: str, params: list[Any]) -> Any:
        """One call; raises :class:`RpcError` on a JSON-RPC error."""
        resp = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in resp:
            raise RpcError(f"{method}: {resp['error']}")
        return resp["result"]

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls in JSON-RPC batches (one by one if the provider cannot batch)."""
        out: list[Any] = []
        make = getattr(self.w3.provider, "make_batch_request", None)
        for i in range(0, len(calls), BATCH):
            chunk = calls[i:i + BATCH]
            resp = None
            if make is not None and len(chunk) > 1:
                try:
                    resp = make(chunk)
                except Exception:  # noqa: BLE001 - fall back to single calls
                    resp = None
            if not isinstance(resp, list) or len(resp) != len(chunk):
                out += [self.rpc(m, p) for m, p in chunk]
                continue
            for r, (m, _) in zip(resp, chunk, strict=True):
                if "error" in r:
                    raise RpcError(f"{m}: {r['error']}")
                out.append(r["result"])
        return out

    def head(self) -> int:
        """Latest block number."""
        return int(self.rpc("eth_blockNumber", []), 16)

    def header(self, number: int) -> dict[str, Any]:
        """Header of block ``number``; raises if the node does not have it."""
        h = self.rpc("eth_getBlockByNumber", [hex(number), False])
        if h is None:
            raise RpcError(f"node has no block {number}")
        return h

    def headers(self, start: int, end: int) -> list[dict[str, Any]]:
        """Headers of blocks ``start..end``."""
        hs = self.batch([("eth_getBlockByNumber", [hex(n), False])
                         for n in range(start, end + 1)])
        if any(h is None for h in hs):
            raise RpcError(f"node lacks a block in {start}..{end}")
        return hs

    def logs(self, start: int, end: int, q: Query) -> list[dict[str, Any]]:
        """Logs of ``q`` in ``start..end``, halving the range while the provider caps it."""
        try:
            got = self.rpc("eth_getLogs", [{"fromBlock": hex(start), "toBlock": hex(end),
                                            "address": q.addresses, "topics": q.topics}])
            capped = len(got) >= self.max_logs
        except RpcError:
            if start == end:
                raise
            got, capped = [], True
        if not capped or start == end:
            return got
        self.splits += 1
        mid = (start + end) // 2
        return self.logs(start, mid, q) + self.logs(mid + 1, end, q)

    def receipt_logs(self, block_hash: str) -> list[dict[str, Any]]:
        """Every log of the block ``block_hash`` from its receipts (authoritative): one
        ``eth_getBlockReceipts``, or, where a provider lacks it, the block's transaction hashes
        and one ``eth_getTransactionReceipt`` each (batched)."""
        self.receipt_reads += 1
        try:
            receipts = self.rpc("eth_getBlockReceipts", [block_hash])
        except RpcError:
            receipts = None
        if receipts is None:
            block = self.rpc("eth_getBlockByHash", [block_hash, False])
            if block is None:
                raise RpcError(f"node has no block {block_hash}")
            receipts = self.batch([("eth_getTransactionReceipt", [h])
                                   for h in block["transactions"]])
            if any(r is None or r["blockHash"].lower() != block_hash.lower() for r in receipts):
                raise RpcError(f"node lacks receipts of block {block_hash}")
        return [lg for r in receipts for lg in r["logs"]]

    def balance(self, holder: str, token: str, block: int) -> int:
        """``holder``'s balance of ``token`` (zero address: ETH) at block ``block``."""
        if int(token, 16) == 0:
            return int(self.rpc("eth_getBalance", [holder, hex(block)]), 16)
        data = "0x70a08231" + "00" * 12 + holder[2:].lower()
        res = self.rpc("eth_call", [{"to": token, "data": data}, hex(block)]) or "0x"
        return int(res[2:66] or "0", 16)

    def tier_addresses(self, vault: str, block: int | str = "latest") -> dict[str, int]:
        """The vault's tier wallets at ``block``: lower-case address -> tier number (unset
        tiers left out). Raises :class:`RpcError` when the node cannot answer (never guesses)."""
        out: dict[str, int] = {}
        at = hex(block) if isinstance(block, int) else block
        for tier in TIERS:
            res = self.rpc("eth_call", [{"to": vault, "data": _TIER_ADDRESS + f"{tier:064x}"}, at])
            addr = "0x" + (res or "0x")[2:66].rjust(64, "0")[-40:]
            if int(addr, 16):
                out[addr.lower()] = tier
        return out
