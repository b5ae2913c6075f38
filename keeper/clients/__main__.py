"""Operator CLI: ``python -m keeper.clients COMMAND``.

    migrate                          create/upgrade every domain's schema (keeper.schema)
    create-client NAME               create a client (prints its id and client_ref)
    issue-key CLIENT_ID [--scope S]  issue an API key; the key is printed once, on stdout
    revoke-key KEY_ID                revoke a key
    list-keys CLIENT_ID              key ids, scopes and state (never the keys)

The database is ``--db URL`` or the settings' ``database_url`` (``STRONGROOM_DB_URL``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from keeper import ledger as ledger_pkg
from keeper.clients import service
from keeper.clients.errors import ClientsError
from keeper.config import load_settings
from keeper.schema import all_schemas, upgrade_all


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m keeper.clients", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", help="database URL (default: settings database_url)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create/upgrade every domain's schema")
    c = sub.add_parser("create-client", help="create a client")
    c.add_argument("name")
    i = sub.add_parser("issue-key", help="issue an API key (printed once)")
    i.add_argument("client_id")
    i.add_argument("--scope", action="append", dest="scopes", choices=sorted(service.SCOPES),
                   help=f"scope to grant (repeatable; default {' '.join(service.DEFAULT_SCOPES)})")
    i.add_argument("--label", help="free-text label, e.g. who holds the key")
    r = sub.add_parser("revoke-key", help="revoke an API key")
    r.add_argument("key_id")
    ls = sub.add_parser("list-keys", help="list a client's keys (never the keys themselves)")
    ls.add_argument("client_id")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    args = _parser().parse_args(argv)
    settings = load_settings()
    url = args.db or settings.database_url
    if args.command == "migrate":
        upgrade_all(url)
        print(f"schemas at head: {' '.join(all_schemas())}")
        return 0
    engine = ledger_pkg.make_engine(url)
    try:
        with Session(engine) as session:
            return _run(args, session, engine, settings.ledger_writer_busy_s)
    except ClientsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OperationalError as exc:
        print(f"error: database not ready ({exc.orig}); run `python -m keeper.clients migrate`",
              file=sys.stderr)
        return 1
    finally:
        engine.dispose()


def _run(args: argparse.Namespace, session: Session, engine: object, busy_s: float) -> int:
    if args.command == "create-client":
        lg = ledger_pkg.Ledger(engine, group_commit=False, busy_timeout=busy_s)  # type: ignore[arg-type]
        client = service.create_client(session, lg, args.name)
        print(f"client_id:  {client.id}\nname:       {client.name}\nclient_ref: {client.client_ref}")
    elif args.command == "issue-key":
        key = service.issue_key(session, args.client_id, args.scopes or service.DEFAULT_SCOPES,
                                args.label)
        print(f"key_id:    {key.key_id}\nclient_id: {key.client_id}\nscopes:    {' '.join(key.scopes)}")
        print(f"api_key:   {key.api_key}")
        print("Store the api_key now: it is shown only this once and cannot be recovered.",
              file=sys.stderr)
    elif args.command == "revoke-key":
        done = service.revoke_key(session, args.key_id)
        print(f"key {args.key_id} {'revoked' if done else 'was already revoked'}")
    elif args.command == "list-keys":
        for k in service.list_keys(session, args.client_id):
            state = f"revoked {k.revoked_at.isoformat()}" if k.revoked_at else "active"
            print(f"{k.key_id}  {' '.join(k.scopes)}  {state}  {k.label or ''}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
