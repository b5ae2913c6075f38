"""Recon fixtures: a migrated database (SQLite and a throwaway PostgreSQL), ledger, break book."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from keeper import clients
from keeper.audit import upgrade as upgrade_audit
from keeper.ledger import Ledger, make_engine
from keeper.ledger import upgrade as upgrade_ledger
from keeper.recon import BreakBook, FiatEntry
from keeper.recon.migrate import upgrade as upgrade_recon

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RESOLVER = "treasury.alice"


@pytest.fixture
def db_url(database: Callable[[str], str]) -> str:
    """The ledger, clients, audit and recon schemas migrated, on SQLite and on PostgreSQL."""
    url = database("recon")
    for upgrade in (upgrade_ledger, clients.upgrade, upgrade_audit, upgrade_recon):
        upgrade(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The ledger, clients, audit and recon schemas migrated on SQLite only."""
    url = f"sqlite:///{tmp_path / 'recon.db'}"
    for upgrade in (upgrade_ledger, clients.upgrade, upgrade_audit, upgrade_recon):
        upgrade(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Any]:
    """An engine on ``db_url``."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


class Clock:
    """A settable clock (break due times are computed from it)."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """A settable clock starting at :data:`T0`."""
    return Clock()


@pytest.fixture
def book(engine: Any, clock: Clock) -> BreakBook:
    """A break book whose only resolver is :data:`RESOLVER`."""
    return BreakBook(engine, resolvers=[RESOLVER], clock=clock)


@pytest.fixture
def ledger(engine: Any) -> Iterator[Ledger]:
    """A directly-committing ledger on the same database."""
    lg = Ledger(engine, group_commit=False)
    yield lg
    lg.close()



class InMemoryCoreBanking:
    """TEST FIXTURE ONLY: an in-memory :class:`keeper.recon.CoreBanking` for the type 2/3 tests.

    Not a core-banking implementation (the local core-banking service of a later issue implements
    the same protocol on its own database): it holds what a test puts in it, a customer's
    movements and a balance that is their sum unless the test overrides it.
    """

    def __init__(self) -> None:
        self.entries: dict[str, list[FiatEntry]] = {}
        self.overrides: dict[str, int] = {}
        self.reserves: dict[str, int] = {}

    def add(self, customer: str, entry_id: str, kind: str, cents: int, asset: str | None = None,
            units: int = 0, transfer_id: str | None = None) -> FiatEntry:
        """Record one movement (and its crypto leg for a trade)."""
        e = FiatEntry(entry_id, datetime.now(UTC), kind, cents, asset, units, transfer_id)
        self.entries.setdefault(customer, []).append(e)
        return e

    def fiat_balances(self) -> Mapping[str, int]:
        """Sum of each customer's movements, unless a test overrode it."""
        out = {c: sum(e.amount_cents for e in es) for c, es in self.entries.items()}
        out.update(self.overrides)
        return out

    def history(self, customer: str) -> Sequence[FiatEntry]:
        """The customer's movements."""
        return list(self.entries.get(customer, []))

    def issuer_reserves(self, asset: str) -> int:
        """Reserves held for ``asset``'s issuer, cents."""
        return self.reserves.get(asset, 0)


@pytest.fixture
def onboard(engine: Any, ledger: Ledger) -> Callable[[str], str]:
    """``onboard(bank_customer_id)``: a new client (its own generated id) whose core-banking
    customer id is ``bank_customer_id``; returns the client id."""

    def make(bank_customer_id: str) -> str:
        with Session(engine) as s:
            cid = clients.create_client(s, ledger, f"Corp {bank_customer_id}").id
        clients.set_profile(engine, cid, actor="test", bank_customer_id=bank_customer_id)
        return cid

    return make


@pytest.fixture
def corebank() -> InMemoryCoreBanking:
    """An empty in-memory core banking (test fixture)."""
    return InMemoryCoreBanking()


@pytest.fixture
def resolver() -> str:
    """The one actor the ``book`` fixture lets resolve breaks."""
    return RESOLVER
