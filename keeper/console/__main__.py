"""Operator CLI: ``python -m keeper.console COMMAND``.

    add-user LOGIN --role R [--role R ...] [--client-id ID] [--owner-address 0x..]
                                  create a login; the password is read from stdin (one line)
                                  or, with --generate, generated and printed once
    disable-user LOGIN            disable a login and end its sessions
    list                          logins, roles, client id, owner address, state (never hashes)

The database is ``--db URL`` or the settings' ``database_url`` (``STRONGROOM_DB_URL``).
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Sequence

from keeper.config import load_settings
from keeper.console.users import ConsoleUserError, create_user, disable_user, list_users
from keeper.ledger import make_engine


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m keeper.console", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", help="database URL (default: settings database_url)")
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("add-user", help="create a login")
    a.add_argument("login")
    a.add_argument("--role", action="append", required=True,
                   help="signer, compliance, treasury, ops, auditor or client")
    a.add_argument("--client-id")
    a.add_argument("--owner-address")
    a.add_argument("--generate", action="store_true", help="generate and print the password")
    a.add_argument("--actor", default="operator")
    d = sub.add_parser("disable-user", help="disable a login")
    d.add_argument("login")
    d.add_argument("--actor", default="operator")
    sub.add_parser("list", help="list logins")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; the exit status (0 done, 1 refused, 2 usage)."""
    args = _parser().parse_args(argv)
    engine = make_engine(args.db or load_settings().database_url)
    try:
        if args.command == "add-user":
            password = secrets.token_urlsafe(18) if args.generate else \
                sys.stdin.readline().rstrip("\n")
            try:
                user = create_user(engine, args.login, password, args.role,
                                   client_id=args.client_id, owner_address=args.owner_address,
                                   actor=args.actor)
            except ConsoleUserError as exc:
                print(f"refused: {exc}", file=sys.stderr)
                return 1
            print(f"created {user.login} ({' '.join(sorted(user.roles))})")
            if args.generate:
                print(f"password: {password}")
        elif args.command == "disable-user":
            if not disable_user(engine, args.login, actor=args.actor):
                print(f"no login {args.login}", file=sys.stderr)
                return 1
            print(f"disabled {args.login}")
        else:
            for u in list_users(engine):
                print(f"{u.login}\t{' '.join(sorted(u.roles))}\t{u.client_id or '-'}\t"
                      f"{u.owner_address or '-'}\t{'disabled' if u.disabled else 'active'}")
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
