"""``python -m keeper.auth``: create, list and revoke OAuth clients; rotate and retire keys."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import keeper.auth as auth
import keeper.clients as clients
from keeper.auth.__main__ import main
from keeper.ledger import Ledger
from strongroom_testkit.dbtemplate import fresh_url


def _field(out: str, name: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                if line.startswith(f"{name}:"))


def test_cli_lifecycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    url = fresh_url(tmp_path / 'cli.db', migrated=True)
    monkeypatch.setenv("STRONGROOM_DATA", str(tmp_path))
    monkeypatch.setenv("STRONGROOM_DB_URL", url)
    lg = Ledger(url, group_commit=False)
    try:
        with Session(lg.engine) as s:
            client = clients.create_client(s, lg, "CLI Bank")
    finally:
        lg.close()
    assert main(["create-client", client.id, "--scope", "customer:read", "--scope", "ops",
                 "--label", "treasury system"]) == 0
    out = capsys.readouterr().out
    oauth_id, secret = _field(out, "oauth_client_id"), _field(out, "client_secret")
    assert _field(out, "scopes") == "customer:read ops" and len(secret) == 43
    assert main(["list-clients", client.id]) == 0
    listed = capsys.readouterr().out
    assert oauth_id in listed and "active" in listed and secret not in listed
    assert main(["rotate-key"]) == 0
    kid = _field(capsys.readouterr().out, "kid")
    key_file = auth.key_path(tmp_path / "secrets", kid)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert len(bytes.fromhex(key_file.read_text())) == 32  # a 256-bit HS256 key
    assert main(["retire-key", kid]) == 0 and "retired" in capsys.readouterr().out
    assert main(["retire-key", "0" * 16]) == 1
    assert main(["revoke-client", oauth_id]) == 0 and "revoked" in capsys.readouterr().out
    assert main(["revoke-client", oauth_id]) == 0
    assert "already" in capsys.readouterr().out
    assert main(["revoke-client", "oc_" + "0" * 16]) == 1
    assert main(["create-client", "no-such-client", "--scope", "ops"]) == 1
    assert "no client" in capsys.readouterr().err


def test_cli_on_an_unmigrated_database_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """On either backend: exit 1 pointing at ``migrate``, no traceback."""
    monkeypatch.setenv("STRONGROOM_DATA", str(tmp_path))
    assert main(["--db", fresh_url(tmp_path / "empty.db"), "list-clients", "c-1"]) == 1
    assert "migrate" in capsys.readouterr().err
