"""PostgreSQL backstop: CHECK constraints keep every stored amount and account total within
0..2**256-1 even for raw SQL that bypasses the ``Amount`` type (a repair script, a psql session).

SQLite has no exact wide numeric type to compare against (the column is affinity-free BLOB), so
the backstop is PostgreSQL's; on SQLite the ``Amount`` type is the only guard.
"""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from keeper.ledger import Ledger, TransferSpec, upgrade
from keeper.ledger.migrate import downgrade
from keeper.ledger.types import UINT256_MAX

pytestmark = pytest.mark.postgres
TOTALS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")
_n = itertools.count()


@pytest.fixture
def pg_ledger_url(pg_cluster) -> str:  # noqa: ANN001
    """A migrated ledger schema holding one transfer of 5 between two accounts."""
    url = pg_cluster.create_database(f"ledger_ck_{next(_n)}")
    upgrade(url)
    with Ledger(url, group_commit=False) as lg:
        om, alice = lg.omnibus_account("ETH", "hot"), lg.client_account("alice", "ETH")
        lg.post(TransferSpec("t1", om, alice, 5))
    return url


def _refused(url: str, sql: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
        return False
    except IntegrityError as exc:
        assert "check" in str(exc.orig).lower()
        return True
    finally:
        engine.dispose()


@pytest.mark.parametrize("column", TOTALS)
def test_raw_update_of_a_total_outside_uint256_is_refused(pg_ledger_url: str, column: str) -> None:
    url = pg_ledger_url
    assert _refused(url, f"UPDATE ledger_accounts SET {column} = {UINT256_MAX + 1}")
    assert _refused(url, f"UPDATE ledger_accounts SET {column} = -1")
    # the bound itself is a legal uint256 (the statement is rolled back by the test, not refused)
    assert not _refused(url, f"UPDATE ledger_accounts SET {column} = {UINT256_MAX} WHERE id < 0")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE ledger_accounts SET {column} = {UINT256_MAX} WHERE id = 1"))
        assert conn.scalar(text(f"SELECT {column} FROM ledger_accounts WHERE id = 1")) == UINT256_MAX
    engine.dispose()


def test_raw_transfer_amount_outside_uint256_is_refused(pg_ledger_url: str) -> None:
    url = pg_ledger_url
    assert _refused(url, f"UPDATE ledger_transfers SET amount = {UINT256_MAX + 1}")
    assert _refused(url, "UPDATE ledger_transfers SET amount = -5")
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT amount FROM ledger_transfers")) == 5  # unchanged
    engine.dispose()


def test_the_checks_roll_back_with_their_revision(pg_ledger_url: str) -> None:
    downgrade(pg_ledger_url, "0002")
    assert not _refused(pg_ledger_url, f"UPDATE ledger_transfers SET amount = {UINT256_MAX + 1}")
    engine = create_engine(pg_ledger_url)
    with engine.begin() as conn:  # put the row back in range so the checks can be re-added
        conn.execute(text("UPDATE ledger_transfers SET amount = 5"))
    engine.dispose()
    upgrade(pg_ledger_url)
    assert _refused(pg_ledger_url, f"UPDATE ledger_transfers SET amount = {UINT256_MAX + 1}")
