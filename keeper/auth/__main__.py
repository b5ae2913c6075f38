"""Operator CLI: ``python -m keeper.auth COMMAND``.

    create-client CLIENT_ID --scope S [--label L]  create an OAuth2 client of a Strongroom client;
                                                   its secret is printed once, on stdout
    revoke-client OAUTH_CLIENT_ID                  revoke it (its tokens stop working at once)
    list-clients CLIENT_ID                         OAuth client ids, scopes and state (no secrets)
    rotate-key                                     new JWT signing key (0600 file + kid); older
                                                   keys keep verifying until retired
    retire-key KID                                 stop accepting tokens signed with KID

The database is ``--db URL`` or the settings' ``database_url``; key files go to the settings'
``secrets_dir``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from keeper.auth.clients import (
    UnknownOAuthClient,
    create_oauth_client,
    list_oauth_clients,
    revoke_oauth_client,
)
from keeper.auth.tokens import TokenService
from keeper.clients import SCOPES, ClientsError, database_not_ready
from keeper.config import load_settings
from keeper.ledger import make_engine


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m keeper.auth", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", help="database URL (default: settings database_url)")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("create-client", help="create an OAuth2 client (secret printed once)")
    c.add_argument("client_id")
    c.add_argument("--scope", action="append", dest="scopes", choices=sorted(SCOPES),
                   required=True, help="scope the client may request (repeatable)")
    c.add_argument("--label", help="free-text label, e.g. which system holds it")
    r = sub.add_parser("revoke-client", help="revoke an OAuth2 client")
    r.add_argument("oauth_client_id")
    ls = sub.add_parser("list-clients", help="list a client's OAuth2 clients (never secrets)")
    ls.add_argument("client_id")
    sub.add_parser("rotate-key", help="create a new JWT signing key")
    k = sub.add_parser("retire-key", help="retire a JWT signing key")
    k.add_argument("kid")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    args = _parser().parse_args(argv)
    settings = load_settings()
    engine = make_engine(args.db or settings.database_url)
    tokens = TokenService(settings.secrets_dir, settings.auth_token_ttl_s)
    try:
        with Session(engine) as session:
            return _run(args, session, tokens)
    except (ClientsError, UnknownOAuthClient) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except DBAPIError as exc:
        if not database_not_ready(exc):
            raise
        print(f"error: database not ready ({exc.orig}); run `python -m keeper.clients migrate`",
              file=sys.stderr)
        return 1
    finally:
        engine.dispose()


def _run(args: argparse.Namespace, session: Session, tokens: TokenService) -> int:
    if args.command == "create-client":
        oc = create_oauth_client(session, args.client_id, args.scopes, args.label)
        print(f"oauth_client_id: {oc.oauth_client_id}\nclient_id:       {oc.client_id}\n"
              f"scopes:          {' '.join(oc.scopes)}")
        print(f"client_secret:   {oc.client_secret}")
        print("Store the client_secret now: it is shown only this once.", file=sys.stderr)
    elif args.command == "revoke-client":
        done = revoke_oauth_client(session, args.oauth_client_id)
        print(f"OAuth client {args.oauth_client_id} {'revoked' if done else 'was already revoked'}")
    elif args.command == "list-clients":
        for oc in list_oauth_clients(session, args.client_id):
            state = f"revoked {oc.revoked_at.isoformat()}" if oc.revoked_at else "active"
            print(f"{oc.oauth_client_id}  {' '.join(oc.scopes)}  {state}  {oc.label or ''}".rstrip())
    elif args.command == "rotate-key":
        print(f"kid: {tokens.rotate(session)}")
    elif args.command == "retire-key":
        try:
            done = tokens.retire(session, args.kid)
        except LookupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"key {args.kid} {'retired' if done else 'was already retired'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
