"""Audit fixtures: a migrated trail on SQLite and on a throwaway PostgreSQL, an attacker holding
the database, and a SoftHSM2 token with the anchor key."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from keeper.audit import AuditTrail, guards
from keeper.audit import upgrade as audit_upgrade
from keeper.audit.records import envelope, record_hash
from keeper.ledger import make_engine
from keeper.ledger import upgrade as ledger_upgrade

ANCHOR_KEY = "audit-anchor"


@pytest.fixture
def db_url(database: Callable[[str], str]) -> str:
    """A database with the ledger and audit schemas at head (SQLite and PostgreSQL)."""
    url = database("audit")
    ledger_upgrade(url)
    audit_upgrade(url)
    return url


@pytest.fixture
def trail(db_url: str) -> Iterator[AuditTrail]:
    """An ``AuditTrail`` on ``db_url``."""
    t = AuditTrail(db_url)
    yield t
    t.close()


Row = tuple[int, str, str]  # seq, hash, body


class Attacker:
    """Helpers of an attacker holding the database (tests get one from the ``attacker`` fixture)."""

    @staticmethod
    def read_rows(engine: Engine) -> list[Row]:
        """Every stored row, in seq order."""
        return read_rows(engine)

    @staticmethod
    def attack(engine: Engine, change: Callable[[list[Row]], list[Row]], *,
               restore_guards: bool = True, fix_head: bool = True) -> None:
        """See :func:`attack`."""
        attack(engine, change, restore_guards=restore_guards, fix_head=fix_head)

    @staticmethod
    def forge(prev: str, seq: int, record_json: str) -> Row:
        """See :func:`forge`."""
        return forge(prev, seq, record_json)


@pytest.fixture
def attacker() -> Attacker:
    """Database-level tampering helpers."""
    return Attacker()


@pytest.fixture
def anchor_key() -> str:
    """The HSM key label anchors are signed with."""
    return ANCHOR_KEY


def read_rows(engine: Engine) -> list[Row]:
    """Every stored row, in seq order."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(  # type: ignore[misc]
            "SELECT seq, hash, body FROM audit_records ORDER BY seq")]


def attack(engine: Engine, change: Callable[[list[Row]], list[Row]], *,
           restore_guards: bool = True, fix_head: bool = True) -> None:
    """What an attacker holding the database does: drop the guard triggers, rewrite the rows
    as ``change`` returns them, point the head cache at the new tail, maybe restore the guards."""
    rows = read_rows(engine)
    new = change(list(rows))
    with engine.connect() as conn, conn.begin():
        guards.remove(conn)
        conn.exec_driver_sql("DELETE FROM audit_records")
        for seq, h, body in new:
            conn.exec_driver_sql(
                "INSERT INTO audit_records (seq, hash, body) VALUES (%s, %s, %s)"
                if conn.dialect.name == "postgresql" else
                "INSERT INTO audit_records (seq, hash, body) VALUES (?, ?, ?)", (seq, h, body))
        if fix_head and new:
            conn.exec_driver_sql(
                "UPDATE audit_head SET seq = %s, hash = %s" if conn.dialect.name == "postgresql"
                else "UPDATE audit_head SET seq = ?, hash = ?", (new[-1][0], new[-1][1]))
        if restore_guards:
            guards.install(conn)


def forge(prev: str, seq: int, record_json: str) -> Row:
    """A self-consistent row an attacker computes (correct envelope, link and hash)."""
    body = envelope(prev, record_json, seq)
    return seq, record_hash(body), body


@pytest.fixture(scope="session")
def hsm_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder whose SoftHSM2 token holds the anchor key (created as set-up does)."""
    if shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2-util not installed (apt softhsm2)")
    from keeper.keys.hsm import ensure_local_token

    data = tmp_path_factory.mktemp("data")
    ensure_local_token(data, ec_keys=(ANCHOR_KEY,))
    return data


@pytest.fixture(scope="session")
def anchor_signer(hsm_data: Path) -> Iterator[Any]:
    """An HSM signer of the anchor key (SoftHSM2 over PKCS#11)."""
    from keeper.keys.hsm import HsmSigner, ensure_local_token

    signer = HsmSigner(ensure_local_token(hsm_data, ec_keys=(ANCHOR_KEY,)), ANCHOR_KEY)
    yield signer
    signer.close()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A raw engine on ``db_url`` (the attacker's, or a second process's)."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()
