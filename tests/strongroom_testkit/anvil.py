"""anvil's test RPC methods over a ``web3.Web3`` (the fork's, e.g. the ``w3`` fixture).

ape's ``chain.mine(timestamp=...)`` does the same for tests that hold ape's ``chain``; these
serve tests and helper processes that speak plain web3 (the keeper's follower tests).
"""

from __future__ import annotations

from typing import Any


def _call(w3: Any, method: str, params: list[Any]) -> Any:
    reply = w3.provider.make_request(method, params)
    if "error" in reply:
        raise RuntimeError(f"{method} failed: {reply['error']}")
    return reply.get("result")


def mine(w3: Any, blocks: int = 1) -> int:
    """Mine ``blocks`` empty blocks at once; returns the new head number."""
    _call(w3, "anvil_mine", [hex(blocks)])
    return int(w3.eth.block_number)


def set_next_timestamp(w3: Any, timestamp: int) -> None:
    """The next mined block carries ``timestamp`` (must be later than the head's)."""
    _call(w3, "evm_setNextBlockTimestamp", [hex(timestamp)])


def increase_time(w3: Any, seconds: int) -> None:
    """Move the chain's clock forward by ``seconds`` (effective from the next block)."""
    _call(w3, "evm_increaseTime", [hex(seconds)])


def snapshot(w3: Any) -> str:
    """Snapshot the chain state; :func:`revert` goes back to it."""
    return str(_call(w3, "evm_snapshot", []))


def revert(w3: Any, snapshot_id: str) -> None:
    """Return the chain to ``snapshot_id`` (refused snapshot ids raise)."""
    if _call(w3, "evm_revert", [snapshot_id]) is not True:
        raise RuntimeError(f"evm_revert({snapshot_id}) was refused")
