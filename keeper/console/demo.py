"""Demo console logins for ``make run``: one per staff role and one client login.

:func:`seed` creates them idempotently; each password is random, kept in a 0600 file
``<secrets_dir>/console/<login>.password`` (created once, reused on later runs) and returned so
``make run`` can print it. Never for production: real logins are made with
``python -m keeper.console add-user``.
"""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from keeper.clients import list_clients
from keeper.config import Settings
from keeper.console.users import (
    AUDITOR,
    CLIENT,
    COMPLIANCE,
    OPS,
    SIGNER,
    TREASURY,
    create_user,
    get_user,
)
from keeper.keys.secrets import read_private_file, write_secret_file
from keeper.ledger import make_engine

STAFF = {"demo-signer": SIGNER, "demo-compliance": COMPLIANCE, "demo-treasury": TREASURY,
         "demo-ops": OPS, "demo-auditor": AUDITOR}
CLIENT_LOGIN = "demo-client"


def seed(settings: Settings, *, client_id: str | None = None,
         signer_address: str | None = None) -> list[tuple[str, str, str]]:
    """Create the demo logins that do not exist yet; ``(login, role, password)`` of each.

    The client login is bound to ``client_id`` (default: the first client by id; none is made
    when there is no client). ``signer_address`` links ``demo-signer`` to the owner address the
    HSM's ``safe-signer`` key signs as (only when the login is first created)."""
    engine = make_engine(settings.database_url)
    folder = settings.secrets_dir / "console"
    out: list[tuple[str, str, str]] = []
    try:
        if client_id is None:
            with Session(engine) as s:
                found = list_clients(s)
            client_id = found[0].id if found else None
        wanted = dict(STAFF)
        if client_id is not None:
            wanted[CLIENT_LOGIN] = CLIENT
        for login, role in wanted.items():
            path = write_secret_file(folder / f"{login}.password",
                                     value=secrets.token_urlsafe(15))
            password = read_private_file(path)
            if get_user(engine, login) is None:
                create_user(engine, login, password, [role],
                            client_id=client_id if role == CLIENT else None,
                            owner_address=signer_address if role == SIGNER else None,
                            actor="demo-seed")
            out.append((login, role, password))
    finally:
        engine.dispose()
    return out
