"""Operator CLI: ``python -m keeper.clients COMMAND``.

    migrate                          create/upgrade every domain's schema (keeper.schema)
    create-client NAME               create a client (prints its id and client_ref)
    issue-key CLIENT_ID [--scope S]  issue an API key; the key is printed once, on stdout
    revoke-key KEY_ID                revoke a key
    list-keys CLIENT_ID              key ids, scopes and state (never the keys)
    show-profile CLIENT_ID           status, KYC validity, bank customer id, country, limits
    set-profile CLIENT_ID --actor A [--kyc-valid-until YYYY-MM-DD] [--bank-customer-id ID]
                [--country CC] [--buy-single-cents N] [--buy-daily-cents N] [--sell-daily-cents N]
                                     set profile fields ("none" clears one)
    suspend|reactivate|close CLIENT_ID --reason R --actor A   change the client's status

The database is ``--db URL`` or the settings' ``database_url`` (``STRONGROOM_DB_URL``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from keeper import ledger as ledger_pkg
from keeper.clients import profile, service
from keeper.clients.errors import ClientsError, InvalidProfile
from keeper.clients.migrate import database_not_ready
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
    sp = sub.add_parser("show-profile", help="show a client's profile")
    sp.add_argument("client_id")
    st = sub.add_parser("set-profile", help="set profile fields ('none' clears one)")
    st.add_argument("client_id")
    st.add_argument("--actor", required=True, help="who makes the change (audited)")
    for flag in _PROFILE_FLAGS:
        st.add_argument(f"--{flag}")
    for cmd in _STATUS_COMMANDS:
        sc = sub.add_parser(cmd, help=f"{cmd} a client (audited)")
        sc.add_argument("client_id")
        sc.add_argument("--reason", required=True)
        sc.add_argument("--actor", required=True)
    return p


_PROFILE_FLAGS = {
    "kyc-valid-until": ("kyc_valid_until", date.fromisoformat),
    "bank-customer-id": ("bank_customer_id", str),
    "country": ("country", str),
    "buy-single-cents": ("buy_single_limit_cents", int),
    "buy-daily-cents": ("buy_daily_limit_cents", int),
    "sell-daily-cents": ("sell_daily_limit_cents", int),
}
_STATUS_COMMANDS = {"suspend": profile.suspend_client, "reactivate": profile.reactivate_client,
                    "close": profile.close_client}


def _profile_changes(args: argparse.Namespace) -> dict[str, object]:
    changes: dict[str, object] = {}
    for flag, (field, parse) in _PROFILE_FLAGS.items():
        raw = getattr(args, flag.replace("-", "_"))
        if raw is None:
            continue
        try:
            changes[field] = None if raw.lower() == "none" else parse(raw)
        except ValueError as exc:
            raise InvalidProfile(f"--{flag}: {exc}") from exc
    return changes


def _print_profile(p: profile.ClientProfile) -> None:
    def show(v: object) -> str:
        return "-" if v is None else str(v)

    print(f"{'client_id:':<24} {p.client_id}\n{'status:':<24} {p.status}")
    for field in ("status_reason", "kyc_valid_until", "bank_customer_id", "country", *profile.LIMIT_FIELDS):
        print(f"{field + ':':<24} {show(getattr(p, field))}")


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
    except DBAPIError as exc:
        if not database_not_ready(exc):
            raise
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
    elif args.command == "show-profile":
        _print_profile(profile.get_profile(session, args.client_id))
    elif args.command == "set-profile":
        _print_profile(profile.set_profile(session, args.client_id, actor=args.actor,
                                           **_profile_changes(args)))  # type: ignore[arg-type]
    elif args.command in _STATUS_COMMANDS:
        _print_profile(_STATUS_COMMANDS[args.command](session, args.client_id, args.reason,
                                                      args.actor))
    return 0


if __name__ == "__main__":
    sys.exit(main())
