"""A ledger that cannot take a write answers 503 in the one error shape, never a 500.

A real ledger on the world's SQLite database is locked by another connection (``BEGIN
IMMEDIATE``, as another process would): a direct post fails with ``LedgerUnavailable`` after its
busy wait, a group-committed one with ``LedgerTimeout`` while the writer still waits for the lock.
The route posting through it is the test's own (the customer API has no write route yet); the
handlers under test are the app's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from keeper.ledger import Ledger, TransferSpec
from strongroom_testkit.apiworld import World

pytestmark = pytest.mark.sqlite_only(reason="locks the SQLite file (BEGIN IMMEDIATE)")


@pytest.fixture
def locked(world: World) -> Iterator[sqlite3.Connection]:
    """Another connection holding the database's write lock."""
    blocker = sqlite3.connect(world.url.removeprefix("sqlite:///"), isolation_level=None, timeout=30)
    try:
        yield blocker
    finally:
        blocker.close()


def _app_posting_through(world: World, lg: Ledger) -> FastAPI:
    app = create_app(world.settings())
    om, alice = lg.omnibus_account("ETH", "vault:test"), lg.client_account("alice-test", "ETH")

    @app.post("/test/post/{tid}")
    def _post(tid: str) -> dict[str, bool]:
        return {"created": lg.post(TransferSpec(tid, om, alice, 1)).created}

    return app


def test_ledger_unavailable_is_a_503_with_retry_after(world: World, locked: sqlite3.Connection,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    lg = Ledger(world.url, group_commit=False, busy_timeout=0.05)
    try:
        app = _app_posting_through(world, lg)
        locked.execute("BEGIN IMMEDIATE")
        with TestClient(app, raise_server_exceptions=False) as api:
            r = api.post("/test/post/t1")
            assert r.status_code == 503, r.text
            assert int(r.headers["Retry-After"]) > 0
            err = r.json()["error"]
            assert err["code"] == "unavailable"
            assert "nothing was written" in err["message"] and "retry" in err["message"]
            assert "locked" not in r.text and "sqlite" not in r.text.lower()  # no internals
            locked.execute("ROLLBACK")
            assert api.post("/test/post/t1").json() == {"created": True}  # the retry works
    finally:
        lg.close()


def test_ledger_timeout_is_a_503_saying_it_may_still_apply(world: World,
                                                           locked: sqlite3.Connection) -> None:
    lg = Ledger(world.url, busy_timeout=30, result_timeout=0.05)
    try:
        app = _app_posting_through(world, lg)
        locked.execute("BEGIN IMMEDIATE")
        with TestClient(app, raise_server_exceptions=False) as api:
            r = api.post("/test/post/t2")
            locked.execute("ROLLBACK")  # the writer, still waiting for the lock, commits now
            assert r.status_code == 503, r.text
            err = r.json()["error"]
            assert err["code"] == "unavailable"
            assert "not confirmed in time" in err["message"]
            assert "same" in err["message"]  # retry with the same ids: never applied twice
            # a retry with the same transfer id: the writer had taken the request (it commits
            # once the lock is free and the retry finds it), or it was withdrawn (the retry
            # posts it); either way exactly one posting
            assert api.post("/test/post/t2").status_code == 200
        assert lg.balance(lg.client_account("alice-test", "ETH")).credit_balance == 1
    finally:
        lg.close()
