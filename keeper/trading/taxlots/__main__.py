"""``python -m keeper.trading.taxlots``: a client's lots, its lot method, its gains report.

* ``lots CLIENT [--asset A]``: the open lots as JSON;
* ``set-method CLIENT METHOD --actor WHO [--fees-in-basis yes|no]``: change the client's method
  (fifo, lifo, hifo) from now on, recorded with who and when, and in the audit trail (no change
  is made when it cannot be audited);
* ``report CLIENT [--since ISO] [--until ISO] [--price ASSET=CENTS ...] [--format json|csv]``:
  realised gains of the period (JSON, or CSV of the disposals' pieces), unrealised gains at the
  given prices and the policy history;
* ``verify CLIENT``: the assets whose stored lots or outcomes differ from a replay of the event
  log (exit 1 when any does; ``--rebuild`` recomputes them from the log).

``--db URL`` overrides the keeper's database (setting ``database_url``). ``--default-method`` and
``--default-fees-in-basis`` are the book's defaults, stored as a client's first policy when
``set-method`` is its first record: pass the keeper's (constructor) defaults. Exit codes: 0 done,
1 a verify found differences, 2 refused (bad argument).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime


def _ms(text: str | None) -> int | None:
    if text is None:
        return None
    when = datetime.fromisoformat(text)
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1000)


def _prices(items: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        asset, _, cents = item.partition("=")
        out[asset] = int(cents)
        if out[asset] < 0:
            raise ValueError("a price is a non-negative number of cents")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI (see the module docstring); returns the exit code."""
    from keeper.trading.taxlots.engine import Method

    parser = argparse.ArgumentParser(prog="python -m keeper.trading.taxlots",
                                     description="Per-client tax lots")
    parser.add_argument("--db", help="database URL (default: the keeper's)")
    parser.add_argument("--default-method", choices=[m.value for m in Method], default="fifo")
    parser.add_argument("--default-fees-in-basis", choices=("yes", "no"), default="yes")
    sub = parser.add_subparsers(dest="command", required=True)
    lots = sub.add_parser("lots", help="open lots (JSON)")
    lots.add_argument("client")
    lots.add_argument("--asset")
    setm = sub.add_parser("set-method", help="change a client's method from now on")
    setm.add_argument("client")
    setm.add_argument("method", choices=[m.value for m in Method])
    setm.add_argument("--actor", required=True)
    setm.add_argument("--fees-in-basis", choices=("yes", "no"))
    rep = sub.add_parser("report", help="realised and unrealised gains")
    rep.add_argument("client")
    rep.add_argument("--since")
    rep.add_argument("--until")
    rep.add_argument("--price", action="append", default=[], metavar="ASSET=CENTS")
    rep.add_argument("--format", choices=("json", "csv"), default="json")
    ver = sub.add_parser("verify", help="compare stored lots with a replay of the events")
    ver.add_argument("client")
    ver.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)

    from keeper.ledger import make_engine
    from keeper.trading.taxlots import codec, reports
    from keeper.trading.taxlots.book import TaxLotBook

    if args.db:
        url = args.db
    else:
        from keeper.config import load_settings

        url = load_settings().database_url
    engine = make_engine(url)
    try:
        from keeper.audit import record_in

        book = TaxLotBook(engine, default_method=Method(args.default_method),
                          fees_in_basis=args.default_fees_in_basis == "yes", audit=record_in)
        if args.command == "lots":
            out = [codec.lot_json(x) | {"asset": a}
                   for a, xs in book.lots_by_asset(args.client).items()
                   if args.asset in (None, a) for x in xs]
            print(json.dumps(out, indent=2, sort_keys=True))
        elif args.command == "set-method":
            fees = None if args.fees_in_basis is None else args.fees_in_basis == "yes"
            change = book.set_policy(args.client, actor=args.actor, method=args.method,
                                     fees_in_basis=fees)
            print(json.dumps({"client_id": args.client, "method": change.method.value,
                              "fees_in_basis": change.fees_in_basis,
                              "effective_from": change.effective_from,
                              "changed_by": change.changed_by,
                              "changed_at": change.changed_at.isoformat()}, sort_keys=True))
        elif args.command == "verify":
            wrong = book.verify(args.client)
            if args.rebuild:
                for asset in wrong:
                    book.rebuild(args.client, asset)
            print(json.dumps({"client_id": args.client, "mismatched": wrong,
                              "rebuilt": wrong if args.rebuild else []}, sort_keys=True))
            return 1 if wrong and not args.rebuild else 0
        else:
            try:
                since, until, prices = _ms(args.since), _ms(args.until), _prices(args.price)
            except ValueError as exc:
                print(f"refused: {exc}", file=sys.stderr)
                return 2
            result = reports.report(book, args.client, since, until, prices)
            if args.format == "csv":
                sys.stdout.write(reports.realised_csv(result["realised"]))
            else:
                print(json.dumps(result, indent=2, sort_keys=True))
        return 0
    except ValueError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
