"""Counting SQLite's work: how many virtual-machine steps the statements of a block ran.

A measure of what a read costs the database that other load on the machine does not change, so a
test can say "this read does the same work for a long history as for a short one" without a clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

STEPS_PER_TICK = 100


@contextmanager
def vm_steps(engine: Engine) -> Iterator[list[int]]:
    """Count, in ticks of :data:`STEPS_PER_TICK` steps, the SQLite virtual-machine steps of every
    statement run on a connection of ``engine`` checked out inside the block; yields a one-item
    list holding the count (read it after the block)."""
    ticks = [0]

    def tick() -> int:
        ticks[0] += 1
        return 0  # go on

    def counting(dbapi_conn: Any, *_: Any) -> None:
        dbapi_conn.set_progress_handler(tick, STEPS_PER_TICK)

    def quiet(dbapi_conn: Any, *_: Any) -> None:
        dbapi_conn.set_progress_handler(None, STEPS_PER_TICK)

    event.listen(engine, "checkout", counting)
    event.listen(engine, "checkin", quiet)
    try:
        yield ticks
    finally:
        event.remove(engine, "checkout", counting)
        event.remove(engine, "checkin", quiet)
