"""Console logins outside the web: the CLI (add, disable, list), the demo seed (idempotent,
0600 password files), and the rules a login must follow."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from keeper.console import (
    CLIENT,
    SIGNER,
    ConsoleUserError,
    create_user,
    get_user,
    verify_password,
)
from keeper.console.__main__ import main
from keeper.console.demo import seed
from strongroom_testkit.browser import PASSWORD, ConsoleWorld


def test_cli_adds_lists_and_disables_a_login(cworld: ConsoleWorld, capsys: pytest.CaptureFixture,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    db = ["--db", cworld.world.url]
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main([*db, "add-user", "Carol", "--role", "treasury", "--role", "ops"]) == 0
    assert main([*db, "add-user", "carol", "--role", "ops", "--generate"]) == 1  # exists
    assert main([*db, "add-user", "dave", "--role", "root", "--generate"]) == 1
    capsys.readouterr()
    assert main([*db, "list"]) == 0
    listed = capsys.readouterr().out
    assert "carol\tops treasury\t-\t-\tactive" in listed and "argon2" not in listed
    engine = create_engine(cworld.world.url)
    try:
        assert verify_password(engine, "carol", "a long enough password") is not None
        assert main([*db, "disable-user", "carol"]) == 0
        assert verify_password(engine, "carol", "a long enough password") is None
    finally:
        engine.dispose()


def test_login_rules(cworld: ConsoleWorld) -> None:
    engine = create_engine(cworld.world.url)
    bad = [
        dict(login="x", password=PASSWORD, roles=[SIGNER]),  # too short a login
        dict(login="erin", password="short", roles=[SIGNER]),  # too short a password
        dict(login="erin", password=PASSWORD, roles=[]),
        dict(login="erin", password=PASSWORD, roles=[CLIENT]),  # a client needs a client id
        dict(login="erin", password=PASSWORD, roles=[CLIENT, SIGNER], client_id="c"),
        dict(login="erin", password=PASSWORD, roles=[CLIENT], client_id="no-such-client"),
        dict(login="erin", password=PASSWORD, roles=[SIGNER], client_id="c"),
        dict(login="erin", password=PASSWORD, roles=["compliance"], owner_address="0x" + "1" * 40),
    ]
    try:
        for spec in bad:
            with pytest.raises(ConsoleUserError):
                create_user(engine, spec.pop("login"), spec.pop("password"), spec.pop("roles"),
                            **spec)
        assert get_user(engine, "erin") is None
    finally:
        engine.dispose()


def test_demo_seed_is_idempotent_and_keeps_passwords_private(cworld: ConsoleWorld) -> None:
    settings = cworld.settings()
    first = seed(settings)
    assert {role for _, role, _ in first} == {"signer", "compliance", "treasury", "ops",
                                              "auditor", "client"}
    assert seed(settings) == first  # nothing new, the same passwords
    engine = create_engine(cworld.world.url)
    try:
        for login, _, password in first:
            assert verify_password(engine, login, password) is not None
            mode = stat.S_IMODE(Path(settings.secrets_dir / "console" /
                                     f"{login}.password").stat().st_mode)
            assert mode == 0o600
        client = get_user(engine, "demo-client")
        assert client is not None and client.client_id in {cworld.world.alice.client.id,
                                                           cworld.world.bob.client.id}
    finally:
        engine.dispose()
