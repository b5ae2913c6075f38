"""Tax-lot fixtures: one migrated trading schema per module on SQLite and on PostgreSQL (a fresh
client id per test keeps tests apart), a settable clock and a book on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from keeper.ledger import make_engine
from keeper.trading.migrate import upgrade
from keeper.trading.taxlots import TaxLotBook

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
T0 = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)  # the vectors' day 0 (ms)
DAY = 86_400_000


class Clock:
    """A settable clock (policy changes take their time from it)."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def taxlots_engine(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Engine]:
    """An engine on a database with the trading schema migrated (one per module and backend)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('taxlots') / 'taxlots.db'}"
    else:
        url = request.getfixturevalue("pg_cluster").create_database(
            f"taxlots_{uuid.uuid4().hex[:12]}")
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    """A clock at :data:`NOW`."""
    return Clock()


@pytest.fixture
def book(taxlots_engine: Engine, clock: Clock) -> TaxLotBook:
    """A book with the defaults (FIFO, fees in bases, 365 days) on the module's database."""
    return TaxLotBook(taxlots_engine, clock=clock)


@pytest.fixture
def client() -> str:
    """A client id no other test uses."""
    return f"client-{uuid.uuid4().hex[:16]}"
