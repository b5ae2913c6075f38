"""Investigators' CLI: trace funds over the transfer mirror and read anomaly alerts.

``python -m keeper.forensics trace <address|tx hash> [--direction out|in|both] [--depth 3]
[--fanout 25] [--max-nodes 500] [--since ISO] [--until ISO] [--format json|csv|dot] [--out FILE]``
prints (or writes) the trace with the compliance lists' labels and the deployment's own wallets
marked; ``python -m keeper.forensics alerts [--after ID] [--detector NAME]`` prints stored
alerts with their forensic chains as JSON lines. ``--db`` overrides the settings' database.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

OK, ERROR = 0, 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m keeper.forensics",
                                description=__doc__.split("\n")[0])
    p.add_argument("--db", help="SQLAlchemy URL (default: the settings' database)")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("trace", help="trace funds from an address or a transaction")
    t.add_argument("start", help="0x address (20 bytes) or transaction hash (32 bytes)")
    t.add_argument("--direction", choices=("out", "in", "both"), default="out")
    t.add_argument("--depth", type=int, default=3)
    t.add_argument("--fanout", type=int, default=25)
    t.add_argument("--max-nodes", type=int, default=500)
    t.add_argument("--since", type=datetime.fromisoformat)
    t.add_argument("--until", type=datetime.fromisoformat)
    t.add_argument("--format", choices=("json", "csv", "dot"), default="json")
    t.add_argument("--out", type=Path, help="file to write (default: stdout)")
    a = sub.add_parser("alerts", help="stored anomaly alerts as JSON lines")
    a.add_argument("--after", type=int, default=0, help="only alerts with a larger id")
    a.add_argument("--detector")
    return p


def _trace(args: argparse.Namespace, engine: Engine) -> int:
    from keeper.forensics.trace import TraceLimits, known_labels, trace

    labels = known_labels(engine, _own_wallets())
    limits = TraceLimits(args.depth, args.fanout, args.max_nodes, args.since, args.until)
    result = trace(engine, args.start, labels, direction=args.direction,
                   limits=limits)
    text = {"json": result.to_json, "csv": result.to_csv, "dot": result.to_dot}[args.format]()
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
        print(f"{len(result.nodes)} addresses, {len(result.edges)} movements -> {args.out}",
              file=sys.stderr)
    return OK


def _own_wallets() -> dict[str, str]:
    """The deployment's contracts (vault, multisigs, ...) by address, when a record exists."""
    from keeper.config import load_settings
    from keeper.deployments import read_deployment

    settings = load_settings()
    record = read_deployment(settings.deployments_dir, settings.chain_id)
    return {} if record is None else record.names_by_address()


def _alerts(args: argparse.Namespace, engine: Engine) -> int:
    from keeper.forensics.pipeline import stored_alerts

    for a in stored_alerts(engine, after_id=args.after, detector=args.detector):
        print(json.dumps({"id": a.id, "detector": a.detector, "subject": a.subject,
                          "event_at": a.event_at.isoformat(),
                          "detected_at": a.detected_at.isoformat(), "summary": a.summary,
                          "evidence": a.evidence}, sort_keys=True))
    return OK


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code."""
    from keeper.config import load_settings
    from keeper.ledger.db import make_engine

    args = _parser().parse_args(argv)
    try:
        engine = make_engine(args.db or load_settings().database_url)
        return {"trace": _trace, "alerts": _alerts}[args.cmd](args, engine)
    except Exception as exc:  # noqa: BLE001 - any failure to run is exit 2, with its reason
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return ERROR


if __name__ == "__main__":
    sys.exit(main())
