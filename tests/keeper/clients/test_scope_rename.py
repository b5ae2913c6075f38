"""The ``client:read`` scope is ``customer:read``: stored API keys and OAuth clients are rewritten
by the clients and auth migrations, and back on downgrade."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from keeper.auth.clients import create_oauth_client
from keeper.auth.migrate import SCHEMA as AUTH
from keeper.clients import CLIENT_READ, OPS, issue_key
from keeper.clients.migrate import SCHEMA as CLIENTS


def stored(db: Engine) -> tuple[str, str]:
    with db.connect() as conn:
        return (conn.execute(text("SELECT scopes FROM clients_api_keys")).scalar_one(),
                conn.execute(text("SELECT scopes FROM auth_oauth_clients")).scalar_one())


def test_stored_scopes_follow_the_rename_both_ways(db: Engine,
                                                   new_client: Callable[[str], str]) -> None:
    assert CLIENT_READ == "customer:read"
    cid = new_client("Acme")
    with Session(db) as session:
        issue_key(session, cid, [CLIENT_READ, OPS])
        create_oauth_client(session, cid, [CLIENT_READ, OPS])
        session.commit()
    assert stored(db) == ("customer:read ops", "customer:read ops")
    CLIENTS.downgrade(db, "0002")
    AUTH.downgrade(db, "0001")
    assert stored(db) == ("client:read ops", "client:read ops")  # what an older release stored
    CLIENTS.upgrade(db)
    AUTH.upgrade(db)
    assert stored(db) == ("customer:read ops", "customer:read ops")
