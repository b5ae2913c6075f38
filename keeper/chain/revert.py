"""Revert reasons: replay a call with ``eth_call`` and decode what it reverted with.

The one home of revert decoding for the sender and the vault withdrawals: ``Error(string)``
gives its message, ``Panic(uint256)`` gives ``Panic(0x..)``, a bare revert gives ``""``.
"""

from __future__ import annotations

from typing import Any

from eth_abi import decode as abi_decode

ERROR_SELECTOR = bytes.fromhex("08c379a0")
PANIC_SELECTOR = bytes.fromhex("4e487b71")


class RpcCallError(RuntimeError):
    """The node failed the call for a reason other than a revert (retry later)."""


def decode_revert(data: bytes) -> str:
    """The reason of revert ``data`` (``""`` when it carries none or is malformed)."""
    try:
        if data[:4] == ERROR_SELECTOR:
            return str(abi_decode(["string"], data[4:])[0])
        if data[:4] == PANIC_SELECTOR:
            return f"Panic(0x{abi_decode(['uint256'], data[4:])[0]:02x})"
    except Exception:  # noqa: BLE001 - hostile or truncated data: no reason
        return ""
    return ""


def _hex_bytes(value: Any) -> bytes:
    if isinstance(value, dict):  # some nodes nest the payload: {"data": "0x..."}
        value = value.get("data")
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            return b""
    return b""


def call_revert_reason(w3: Any, call: dict[str, Any], block: str = "latest") -> str | None:
    """None if ``call`` (JSON-RPC call object, hex quantities) succeeds at ``block``, else its
    decoded revert reason (``""`` when the revert carries none). Raises :class:`RpcCallError`
    when the node fails for another reason."""
    answer = w3.provider.make_request("eth_call", [call, block])
    error = answer.get("error") if isinstance(answer, dict) else None
    if not error:
        return None
    message = str(error.get("message", ""))
    if error.get("code") == 3 or "revert" in message.lower():
        reason = decode_revert(_hex_bytes(error.get("data")))
        if not reason and ":" in message:  # "execution reverted: <reason>" without data
            reason = message.split(":", 1)[1].strip()
        return reason
    if "out of gas" in message.lower():
        return "out of gas"
    raise RpcCallError(f"eth_call failed: {message[:200]}")
