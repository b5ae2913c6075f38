"""Compliance fixtures: a migrated database (SQLite file, or a throwaway PostgreSQL) and a store.

PostgreSQL comes from the session's shared ``pg_cluster`` fixture (tests/conftest.py)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from keeper.compliance import ListStore  # noqa: E402
from keeper.compliance.migrate import upgrade  # noqa: E402
from keeper.ledger.db import make_engine  # noqa: E402


@pytest.fixture
def compliance_url(request: pytest.FixtureRequest, database: Callable[..., str]) -> str:
    """A freshly migrated compliance database URL (SQLite and PostgreSQL); every domain's schema
    when the test also uses ``db`` (a copy of the session's migrated template)."""
    if "db" in request.fixturenames:
        return database("compliance", migrated=True)
    url = database("compliance")
    upgrade(url)
    return url


@pytest.fixture
def engine(compliance_url: str):
    """An engine on ``compliance_url`` (the project's engine factory)."""
    eng = make_engine(compliance_url)
    yield eng
    eng.dispose()


@pytest.fixture
def db(compliance_url: str) -> Iterator[Engine]:
    """An engine on ``compliance_url``, which then has every domain migrated (the audit trail
    included)."""
    eng = make_engine(compliance_url)
    yield eng
    eng.dispose()


@pytest.fixture
def store(engine) -> ListStore:
    """A list store on a fresh database."""
    return ListStore(engine)


@pytest.fixture(autouse=True)
def _unfreeze_gc() -> Iterator[None]:
    """ScreeningService freezes its index out of the cyclic GC (process-wide); undo it after each
    test so the rest of the suite keeps collecting its garbage cycles."""
    yield
    gc.unfreeze()
