"""Per-process rate-limit counters: after a process's first (written) hit of a bucket in a
window, hits below half the bucket's limit are counted in memory and written in one flush; past
half every hit is an exact database upsert; two limiters on one database (two API workers) share
what they flushed; nothing counted is lost at ``close``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text

from keeper.auth import RateLimiter
from keeper.ledger import make_engine

T0 = 1_000_020.0  # the start of a window that ends at 1_000_080


class Clock:
    """A settable clock for the limiter (seconds since the epoch)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(database: Callable[[str], str]) -> Iterator[Engine]:
    url = database("counters", migrated=True)
    eng = make_engine(url)
    yield eng
    eng.dispose()


def stored(engine: Engine, bucket: str) -> int | None:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count FROM auth_rate_limits WHERE bucket = :b"),
                            {"b": bucket}).scalar()


def test_hits_below_half_the_limit_are_flushed_not_written_each(engine: Engine) -> None:
    limiter = RateLimiter(engine, 10, clock=Clock(T0), flush_s=None)  # flushed by hand
    try:
        got = [limiter.hit("client:a") for _ in range(5)]
        assert [d.remaining for d in got] == [9, 8, 7, 6, 5] and all(d.allowed for d in got)
        # the first hit of the window is written (it learns what others counted), the next
        # four are not: no write per request
        assert stored(engine, "client:a") == 1
        limiter.flush()
        assert stored(engine, "client:a") == 5
        limiter.flush()  # nothing pending: nothing counted twice
        assert stored(engine, "client:a") == 5
        sixth = limiter.hit("client:a")  # past half: exact, written before the answer
        assert sixth.remaining == 4 and stored(engine, "client:a") == 6
    finally:
        limiter.close()


def test_two_workers_share_what_they_flushed_and_refuse_at_the_limit(engine: Engine) -> None:
    clock = Clock(T0)
    a = RateLimiter(engine, 10, clock=clock, flush_s=None)
    b = RateLimiter(engine, 10, clock=clock, flush_s=None)
    try:
        assert all(a.hit("client:x").allowed for _ in range(5))
        assert all(b.hit("client:x").allowed for _ in range(5))
        a.flush()
        b.flush()
        assert stored(engine, "client:x") == 10
        # both have used half locally: every further hit is exact and sees the other's count
        assert not a.hit("client:x").allowed and not b.hit("client:x").allowed
        assert stored(engine, "client:x") == 12
        assert b.hit("client:y").remaining == 9  # buckets stay independent
    finally:
        a.close()
        b.close()


def test_exact_hits_refuse_exactly_and_windows_roll(engine: Engine) -> None:
    clock = Clock(T0)
    limiter = RateLimiter(engine, 3, clock=clock, flush_s=None)
    try:
        got = [limiter.hit("client:a") for _ in range(4)]
        assert [d.allowed for d in got] == [True, True, True, False]
        assert [d.remaining for d in got] == [2, 1, 0, 0]
        assert {d.reset_s for d in got} == {60}
        assert stored(engine, "client:a") == 4  # the hit of the second request flushed the first
        clock.now = T0 + 60.5  # next window: a fresh allowance
        assert limiter.hit("client:a").remaining == 2
        limiter.flush()
        assert stored(engine, "client:a") == 1
    finally:
        limiter.close()


def test_close_writes_what_was_counted(engine: Engine) -> None:
    limiter = RateLimiter(engine, 100, clock=Clock(T0))  # background flusher on
    for _ in range(7):
        limiter.hit("ip:203.0.113.9")
    limiter.close()
    assert stored(engine, "ip:203.0.113.9") == 7


def test_a_failed_flush_keeps_the_counts_for_the_next(engine: Engine) -> None:
    limiter = RateLimiter(engine, 100, clock=Clock(T0), flush_s=None)
    try:
        for _ in range(3):
            limiter.hit("client:a")
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE auth_rate_limits"))
        with pytest.raises(Exception, match="auth_rate_limits"):
            limiter.flush()
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE auth_rate_limits (bucket VARCHAR(100) PRIMARY KEY, "
                              '"window" BIGINT NOT NULL, count INTEGER NOT NULL)'))
        limiter.flush()
        assert stored(engine, "client:a") == 2  # the two hits pending when the flush failed
    finally:
        limiter.close()


def test_an_exact_hit_is_written_below_half_the_limit(engine: Engine) -> None:
    """What the API asks for a request that changes something."""
    limiter = RateLimiter(engine, 100, clock=Clock(T0), flush_s=None)
    try:
        limiter.hit("client:a")
        limiter.hit("client:a")  # in memory
        assert limiter.hit("client:a", exact=True).remaining == 97
        assert stored(engine, "client:a") == 3  # with the pending one
    finally:
        limiter.close()
