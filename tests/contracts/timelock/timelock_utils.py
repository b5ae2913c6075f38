"""Shared constants and helpers of the Timelock tests (a uniquely named module: see TOOLCHAIN)."""

from __future__ import annotations

from typing import Any

H = 3600
DELAY = 48 * H
PROTECTED = 2 * DELAY  # no canceller can cancel an operation scheduled with at least this delay
MAX_PROTECTED = 30 * 24 * H
Z32 = b"\x00" * 32
ZERO = "0x0000000000000000000000000000000000000000"
# flag Roles in contracts/Timelock.vy, declaration order
PROPOSER, EXECUTOR, CANCELLER = 1, 2, 4


def timelock_args(proposers: list[Any], executors: list[Any], cancellers: list[Any],
                  delay: int = DELAY, floor: int = DELAY, protected: int = PROTECTED) -> list[Any]:
    """Constructor arguments of contracts/Timelock.vy, in order."""
    return [delay, floor, protected, proposers, executors, cancellers]


def schedule_and_wait(tl: Any, chain: Any, proposer: Any, target: Any, data: bytes,
                      delay: int = DELAY, salt: bytes = Z32) -> bytes:
    """`proposer` schedules one call, the chain moves past its delay; returns the op id."""
    tl.schedule(target.address, 0, data, Z32, salt, delay, sender=proposer)
    chain.mine(timestamp=chain.pending_timestamp + delay)
    return bytes(tl.hashOperation(target.address, 0, data, Z32, salt))
