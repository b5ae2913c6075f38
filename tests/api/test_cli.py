"""``python -m keeper.clients``: create a client, issue a key printed once, revoke it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import Session

import keeper.clients as clients
from keeper.clients.__main__ import main
from keeper.ledger import Ledger, make_engine
from keeper.schema import all_schemas
from strongroom_testkit.dbtemplate import fresh_url


def _field(out: str, name: str) -> str:
    m = re.search(rf"^{name}:\s+(\S+)$", out, re.M)
    assert m, out
    return m.group(1)


def test_cli_lifecycle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = fresh_url(tmp_path / 'cli.db')
    assert main(["--db", db, "migrate"]) == 0
    assert main(["--db", db, "migrate"]) == 0  # idempotent
    capsys.readouterr()

    assert main(["--db", db, "create-client", "Carol Fund"]) == 0
    out = capsys.readouterr().out
    client_id, client_ref = _field(out, "client_id"), _field(out, "client_ref")
    lg = Ledger(db, group_commit=False)
    assert lg.client_refs()[client_ref] == client_id
    lg.close()

    assert main(["--db", db, "issue-key", client_id, "--label", "carol treasury"]) == 0
    cap = capsys.readouterr()
    key, key_id = _field(cap.out, "api_key"), _field(cap.out, "key_id")
    assert cap.out.count(key) == 1
    assert "shown only this once" in cap.err and key not in cap.err

    engine = make_engine(db)
    with Session(engine) as s:
        principal = clients.authenticate(s, key)
        assert principal is not None and principal.client.id == client_id

    assert main(["--db", db, "list-keys", client_id]) == 0
    listing = capsys.readouterr().out
    assert key_id in listing and "active" in listing and key not in listing

    assert main(["--db", db, "revoke-key", key_id]) == 0
    assert "revoked" in capsys.readouterr().out
    with Session(engine) as s:
        assert clients.authenticate(s, key) is None
    engine.dispose()

    assert main(["--db", db, "issue-key", "no-such-client"]) == 1
    assert "no client" in capsys.readouterr().err


def test_cli_on_an_unmigrated_database_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = fresh_url(tmp_path / 'empty.db')
    assert main(["--db", db, "issue-key", "x"]) == 1
    assert "migrate" in capsys.readouterr().err


def test_migrate_brings_every_domain_to_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``migrate`` uses the one list of schemas: a database it prepared serves every domain."""
    db = fresh_url(tmp_path / 'all.db')
    assert main(["--db", db, "migrate"]) == 0
    engine = make_engine(db)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    for name, schema in all_schemas().items():
        assert schema.version_table in tables, name
        assert set(schema.metadata().tables) <= tables, name
    assert capsys.readouterr().out.strip() == f"schemas at head: {' '.join(all_schemas())}"


def test_cli_profile_and_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = fresh_url(tmp_path / 'cli.db')
    assert main(["--db", db, "migrate"]) == 0
    assert main(["--db", db, "create-client", "Dana Bank"]) == 0
    client_id = _field(capsys.readouterr().out, "client_id")

    assert main(["--db", db, "set-profile", client_id, "--actor", "ops.alice", "--country", "at",
                 "--kyc-valid-until", "2027-03-31", "--bank-customer-id", "ATL-9",
                 "--buy-daily-cents", "500000"]) == 0
    out = capsys.readouterr().out
    assert _field(out, "country") == "AT" and _field(out, "buy_daily_limit_cents") == "500000"
    assert main(["--db", db, "set-profile", client_id, "--actor", "ops.alice",
                 "--buy-daily-cents", "none"]) == 0
    assert _field(capsys.readouterr().out, "buy_daily_limit_cents") == "-"

    assert main(["--db", db, "set-profile", client_id, "--actor", "ops.alice",
                 "--kyc-valid-until", "tomorrow"]) == 1
    assert "kyc-valid-until" in capsys.readouterr().err
    assert main(["--db", db, "suspend", client_id, "--reason", "review", "--actor", "ops.bob"]) == 0
    assert _field(capsys.readouterr().out, "status") == "suspended"
    assert main(["--db", db, "close", client_id, "--reason", "ended", "--actor", "ops.bob"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "reactivate", client_id, "--reason", "x", "--actor", "ops.bob"]) == 1
    assert "closed" in capsys.readouterr().err
    assert main(["--db", db, "show-profile", client_id]) == 0
    out = capsys.readouterr().out
    assert _field(out, "status") == "closed" and _field(out, "kyc_valid_until") == "2027-03-31"
