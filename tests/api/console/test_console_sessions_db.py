"""Console users and sessions on SQLite and PostgreSQL: verify, rotate, idle and absolute
expiry, logout, disable (its sessions end), with an injected clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from keeper.console import (
    ABSOLUTE_HOURS,
    OPS,
    SessionStore,
    create_user,
    disable_user,
    verify_password,
)
from keeper.ledger import make_engine

PASSWORD = "a password long enough"


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_sessions_expire_rotate_and_end(database: Callable[..., str]) -> None:
    engine = make_engine(database("console", migrated=True))
    clock = Clock()
    try:
        create_user(engine, "olga", PASSWORD, [OPS])
        user = verify_password(engine, "OLGA", PASSWORD)
        assert user is not None and verify_password(engine, "olga", PASSWORD + "x") is None
        store = SessionStore(engine, idle_minutes=15, clock=clock)
        sid, csrf = store.create(user, "127.0.0.1")
        assert store.resolve(sid).csrf_token == csrf
        clock.now += timedelta(minutes=14)  # active: each request moves last_seen on
        assert store.resolve(sid) is not None
        clock.now += timedelta(minutes=14)
        assert store.resolve(sid) is not None
        clock.now += timedelta(minutes=15, seconds=1)  # idle too long
        assert store.resolve(sid) is None

        sid, _ = store.create(user, "127.0.0.1")
        born, lasted = clock.now, None
        for _ in range(ABSOLUTE_HOURS * 6 + 2):  # busy all day: still ends at the absolute lifetime
            clock.now += timedelta(minutes=10)
            if store.resolve(sid) is None:
                lasted = clock.now - born
                break
        assert lasted is not None
        assert timedelta(hours=ABSOLUTE_HOURS) < lasted <= timedelta(hours=ABSOLUTE_HOURS,
                                                                      minutes=10)

        old, _ = store.create(user, "127.0.0.1")
        new, _ = store.create(user, "127.0.0.1", replaces=old)  # rotation at login
        assert store.resolve(old) is None and store.resolve(new) is not None
        store.revoke(store.resolve(new))
        assert store.resolve(new) is None

        live, _ = store.create(user, "127.0.0.1")
        assert disable_user(engine, "olga") and store.resolve(live) is None
        assert verify_password(engine, "olga", PASSWORD) is None
        with engine.connect() as conn:
            ids = conn.execute(text("SELECT id_hash FROM console_sessions")).scalars().all()
        assert live not in ids and len(ids[0]) == 64  # only digests are stored
    finally:
        engine.dispose()
