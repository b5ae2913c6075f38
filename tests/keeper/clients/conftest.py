"""Clients fixtures: every domain migrated (audit included), on SQLite and PostgreSQL, and a
helper that creates clients through the real service (ledger reference registered)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from keeper.clients import create_client
from keeper.ledger import Ledger, make_engine


@pytest.fixture
def db(database: Callable[[str], str]) -> Iterator[Engine]:
    """An engine on a database with every domain's schema at head."""
    url = database("clients", migrated=True)
    eng = make_engine(url)
    yield eng
    eng.dispose()


@pytest.fixture
def new_client(db: Engine) -> Iterator[Callable[[str], str]]:
    """``new_client(name)`` -> the id of a client created through ``create_client``."""
    ledger = Ledger(db, group_commit=False)

    def make(name: str) -> str:
        with Session(db) as session:
            return create_client(session, ledger, name).id

    yield make
    ledger.close()
