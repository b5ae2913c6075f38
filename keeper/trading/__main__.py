"""``python -m keeper.trading``: the trading desk from the command line (the keeper's settings:
database, venue registry, jurisdiction rules, tax-lot defaults).

* ``route --client ID --symbol BTC/USD --side buy|sell --amount N [--limit P] [--jurisdiction CC]
  --client-type TYPE [--id PARENT_ID]``: route a parent order (amount in base minor units, limit
  in quote minor units per whole base unit) under the rules of the client's KYC country (a
  ``--jurisdiction`` must match it), record its fills in the client's tax lots, print the order
  as JSON; ``--id`` makes a retry return the same execution;
* ``show ID``: the order as JSON (status, fills, VWAP, fees, baseline, improvement...);
* ``report ID [--html F | --pdf F]``: the best-execution report (JSON figures, or HTML/PDF file);
* ``lots CLIENT``: the client's open tax lots as JSON.

Exit codes: 0 done, 1 refused by the jurisdiction rules or the client check (unknown client, may
not trade, no country, another jurisdiction; the rule and reason on stderr: nothing was stored
or sent), 2 a bad argument or unknown order, 3 no venue registry configured.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m keeper.trading", description="Trading desk")
    sub = parser.add_subparsers(dest="command", required=True)
    route = sub.add_parser("route", help="route a parent order")
    route.add_argument("--client", required=True)
    route.add_argument("--symbol", required=True)
    route.add_argument("--side", required=True, choices=("buy", "sell"))
    route.add_argument("--amount", required=True, type=int, help="base minor units")
    route.add_argument("--limit", type=int, help="quote minor units per whole base unit")
    route.add_argument("--jurisdiction", default=None,
                       help="must match the client's KYC country (the default)")
    route.add_argument("--client-type", required=True)
    route.add_argument("--id", help="parent id (default: a new one)")
    route.add_argument("--actor", default="cli")
    show = sub.add_parser("show", help="an order as JSON")
    show.add_argument("id")
    rep = sub.add_parser("report", help="best-execution report")
    rep.add_argument("id")
    out = rep.add_mutually_exclusive_group()
    out.add_argument("--html", type=Path)
    out.add_argument("--pdf", type=Path)
    lots = sub.add_parser("lots", help="a client's open tax lots")
    lots.add_argument("client")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI (see the module docstring); returns the exit code."""
    args = _parser().parse_args(argv)

    from keeper.config import load_settings
    from keeper.ledger import Ledger, make_engine
    from keeper.trading.desk import ClientRefusedError, TradingDesk, lots_view, order_view
    from keeper.trading.routing import OrderRefusedError, ParentMismatchError
    from keeper.trading.taxlots import InvalidEventError
    from keeper.trading.types import ParentOrder, Side

    settings = load_settings()
    engine = make_engine(settings.database_url)
    ledger = Ledger(engine, group_commit=False)
    desk = TradingDesk.from_settings(settings, engine, ledger.raise_alert)
    try:
        if desk is None:
            print("no venue registry configured (STRONGROOM_TRADING_VENUES_FILE)", file=sys.stderr)
            return 3
        if args.command == "route":
            parent = ParentOrder(args.id or f"cli-{uuid.uuid4().hex[:20]}", args.client,
                                 args.symbol, Side(args.side), args.amount, args.limit,
                                 args.jurisdiction, args.client_type, desk.clock())
            try:
                ex = desk.submit(parent, actor=args.actor)
            except (OrderRefusedError, ClientRefusedError) as e:
                print(f"refused: {e}", file=sys.stderr)
                return 1
            except (ParentMismatchError, InvalidEventError, ValueError) as e:
                print(f"refused: {e}", file=sys.stderr)
                return 2
            print(json.dumps(order_view(ex, desk.report(ex.parent.id)), indent=2))
        elif args.command in ("show", "report"):
            try:
                report = desk.report(args.id)
            except KeyError:
                print(f"no order {args.id!r}", file=sys.stderr)
                return 2
            if args.command == "show":
                print(json.dumps(order_view(desk.execution(args.id), report), indent=2))
            elif getattr(args, "html", None):
                args.html.write_text(desk.report_html(args.id))
            elif getattr(args, "pdf", None):
                args.pdf.write_bytes(desk.report_pdf(args.id))
            else:
                print(json.dumps(order_view(desk.execution(args.id), report), indent=2))
        else:
            print(json.dumps(lots_view(args.client, desk.lots(args.client)), indent=2))
        return 0
    finally:
        if desk is not None:
            desk.close()
        ledger.close()


if __name__ == "__main__":
    sys.exit(main())
