"""Request rate limits shared by every API process: one fixed-window counter per bucket in the
database, moved by one upsert per request (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``).

A bucket is ``client:<client id>`` for an authenticated request and ``ip:<address>`` otherwise.
The window is the epoch minute: a bucket may make ``limit`` requests per window (a fixed window
lets a client spend up to twice the limit across a window boundary; the spec's 100/min is a
fairness limit, not a security boundary). Processes whose clocks disagree never move a bucket's
window backwards. The upsert is a single statement in its own short transaction, so SQLite
serialises it with its busy wait and PostgreSQL with the row lock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, case
from sqlalchemy.dialects import postgresql, sqlite

from keeper.auth.models import RateLimitRow

WINDOW_S = 60
MAX_BUCKET_LEN = 100


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of one request against its bucket (what the ``RateLimit-*`` headers say)."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # seconds until the window ends (also the ``Retry-After`` of a refusal)


class RateLimiter:
    """Counts requests per bucket in ``engine``'s ``auth_rate_limits`` table."""

    def __init__(self, engine: Engine, per_minute: int,
                 clock: Callable[[], float] = time.time) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.engine = engine
        self.limit = per_minute
        self.clock = clock
        dialect = sqlite if engine.dialect.name == "sqlite" else postgresql
        table = RateLimitRow.__table__
        ins = dialect.insert(table)
        current = table.c.window >= ins.excluded.window
        self._upsert = ins.on_conflict_do_update(
            index_elements=[table.c.bucket],
            set_={"count": case((current, table.c.count + 1), else_=1),
                  "window": case((current, table.c.window), else_=ins.excluded.window)},
        ).returning(table.c.count, table.c.window)

    def hit(self, bucket: str) -> RateDecision:
        """Count one request of ``bucket`` now and say whether it is within the limit."""
        now = self.clock()
        window = int(now // WINDOW_S)
        with self.engine.begin() as conn:
            count, stored_window = conn.execute(
                self._upsert, {"bucket": bucket[:MAX_BUCKET_LEN], "window": window, "count": 1},
            ).one()
        reset = max(1, math.ceil((stored_window + 1) * WINDOW_S - now))
        return RateDecision(count <= self.limit, self.limit, max(0, self.limit - count), reset)
