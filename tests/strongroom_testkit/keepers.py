"""Helpers of the multi-node and multi-keeper tests: anvil nodes forked from one chain at one
block that stay identical (the same signed transactions mined with the same timestamps give the
same block hashes), and ETH deposits into a vault sent as raw transactions.

* :func:`start_node` forks ``fork_url`` at ``block`` into a new anvil (``--no-mining``: blocks
  only when :meth:`Nodes.mine` says so), optionally on another chain id;
* :class:`Nodes`: several such nodes moved in lockstep: :meth:`Nodes.deposit` puts one vault
  deposit in its own block on each of them, :meth:`Nodes.mine` mines empty blocks; a node that
  is stopped is left out of later blocks (the others go on);
* :data:`DEPOSITOR_KEY` funds every deposit (given ETH on every node by :class:`Nodes`).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3

from keeper.chain.calldata import vault_deposit_eth
from scripts.localnet import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPOSITOR_KEY = "0x" + "5a" * 32
DEPOSITOR = Account.from_key(DEPOSITOR_KEY)


@dataclass
class Node:
    """One anvil process and a plain web3 connection to it."""

    proc: subprocess.Popen[bytes]
    url: str
    w3: Web3

    @property
    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the node (as a crashed provider) and reap it."""
        if self.alive:
            self.proc.kill()
        self.proc.wait(timeout=30)

    def rpc(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call; raises on an error answer."""
        reply = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]


def start_node(fork_url: str | None, block: int, chain_id: int | None = None,
               timeout_s: float = 30.0) -> Node:
    """An anvil forking ``fork_url`` at ``block`` (mining only on request); without
    ``fork_url`` a chain of its own with ``block`` empty blocks (another history)."""
    port = free_port()
    anvil = shutil.which("anvil") or str(ROOT / "node_modules" / ".bin" / "anvil")  # as ape's
    cmd = [anvil, "--port", str(port), "--no-mining", "--silent"]
    if fork_url is not None:
        cmd += ["--fork-url", fork_url, "--fork-block-number", str(block)]
    if chain_id is not None:
        cmd += ["--chain-id", str(chain_id)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 10}))
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if fork_url is None and w3.eth.block_number < block:
                w3.provider.make_request("anvil_mine", [hex(block - w3.eth.block_number)])
            if w3.eth.block_number >= block:
                return Node(proc, url, w3)
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"anvil fork on port {port} did not come up")
        time.sleep(0.1)


@dataclass
class Nodes:
    """Nodes kept identical: every block is mined on each live one with the same content and
    timestamp. ``timestamp``: the next block's (one second per block after it)."""

    nodes: list[Node]
    timestamp: int = 0
    nonce: int = 0
    chain_id: int = 0

    def __post_init__(self) -> None:
        self.chain_id = int(self.nodes[0].w3.eth.chain_id)
        head = self.nodes[0].w3.eth.get_block("latest")
        self.timestamp = max(self.timestamp, int(head["timestamp"]) + 12)
        for n in self.nodes:
            n.rpc("anvil_setBalance", [DEPOSITOR.address, hex(10**24)])
        self.nonce = int(self.nodes[0].rpc("eth_getTransactionCount",
                                           [DEPOSITOR.address, "latest"]), 16)

    def live(self, only: list[Node] | None = None) -> list[Node]:
        """The nodes still running (of ``only``)."""
        return [n for n in (only or self.nodes) if n.alive]

    def _block(self, raws: dict[str, str | None], only: list[Node] | None) -> None:
        for n in self.live(only):
            if raws.get(n.url) is not None:
                n.rpc("eth_sendRawTransaction", [raws[n.url]])
            n.rpc("evm_setNextBlockTimestamp", [hex(self.timestamp)])
            n.rpc("evm_mine", [])
        self.timestamp += 1

    def raw_deposit(self, vault: str, ref: bytes, wei: int) -> str:
        """A signed ``depositEth(ref)`` of ``wei`` into ``vault`` with the current nonce."""
        tx = {"to": Web3.to_checksum_address(vault), "value": wei, "gas": 200_000,
              "maxFeePerGas": 10**12, "maxPriorityFeePerGas": 10**9, "nonce": self.nonce,
              "chainId": self.chain_id, "type": 2,
              "data": vault_deposit_eth(ref)}
        return "0x" + DEPOSITOR.sign_transaction(tx).raw_transaction.hex()

    def deposit(self, vault: str, ref: bytes, wei: int, only: list[Node] | None = None) -> None:
        """One vault ETH deposit in its own block on every live node (of ``only``)."""
        raw = self.raw_deposit(vault, ref, wei)
        self.nonce += 1
        self._block({n.url: raw for n in self.nodes}, only)

    def diverge(self, vault: str, each: dict[str, tuple[bytes, int]]) -> None:
        """One block on each node of ``each`` (url -> (ref, wei)) holding its own deposit
        (same nonce, different content): from here on those nodes' chains differ."""
        raws = {url: self.raw_deposit(vault, ref, wei) for url, (ref, wei) in each.items()}
        self.nonce += 1
        self._block(dict(raws), [n for n in self.nodes if n.url in each])

    def mine(self, blocks: int = 1, only: list[Node] | None = None) -> None:
        """``blocks`` empty blocks on every live node (of ``only``)."""
        for _ in range(blocks):
            self._block({}, only)

    def stop(self) -> None:
        """Kill every node."""
        for n in self.nodes:
            n.kill()
