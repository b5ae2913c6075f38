"""``python -m keeper.trading.bestex``: best-execution reports for compliance (HTML, PDF, JSON).

Executions come from a JSON file of execution records (``--records FILE``: a list of records in
the form of ``keeper.trading.bestex.record_to_json``) or from routing's stored executions
(``--database-url URL --order ID ...``, read through ``keeper.trading.routing.RoutingStore``).

* ``order --out DIR [--order ID ...]``: one report per order: ``bestex-<id>.html``, ``.pdf`` and
  ``.json`` (file names keep only ``[A-Za-z0-9_.-]`` of the id);
* ``period --out DIR [--from ISO] [--to ISO]``: the period's aggregates and its orders:
  ``bestex-period.html``, ``.pdf``, ``.json`` (``--from`` inclusive, ``--to`` exclusive, UTC).

Exit codes: 0 written, 2 refused input (the message names the record and field).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keeper.strictdata import decode
from keeper.trading.bestex.analytics import OrderReport, analyse, fixed, in_period, summarise, venue_usage
from keeper.trading.bestex.record import (
    ExecutionRecord,
    RecordError,
    fill_to_json,
    from_execution,
    record_from_json,
)
from keeper.trading.bestex.render import Document, order_document, period_document, render_html, render_pdf

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_DEPTH = 16  # a records file nests 6 levels


def _ms(text: str | None) -> int | None:
    if text is None:
        return None
    at = datetime.fromisoformat(text)
    return int((at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp() * 1000)



def _records_from_file(path: Path) -> list[ExecutionRecord]:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise RecordError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    text = path.read_text(encoding="utf-8")
    try:
        data = decode(text, MAX_DEPTH)  # depth first: py_ecc raises the recursion limit
    except ValueError as exc:
        raise RecordError(f"{path}: {exc}") from None
    if not isinstance(data, list):
        raise RecordError(f"{path}: a JSON list of execution records is expected")
    return [record_from_json(item, f"{path} record {i}") for i, item in enumerate(data)]


def _records_from_db(url: str, ids: Sequence[str]) -> list[ExecutionRecord]:
    from keeper.ledger import make_engine
    from keeper.trading.routing import RoutingStore

    engine = make_engine(url)
    try:
        store = RoutingStore(engine)
        out = []
        for pid in ids:
            execution = store.execution(pid)
            if execution is None:
                raise RecordError(f"no stored execution of order {pid!r}")
            out.append(from_execution(execution))
        return out
    finally:
        engine.dispose()


def _exact(value: Any) -> Any:
    """JSON of the report's figures: Fractions as exact ``"p/q"`` strings beside rounded text."""
    if hasattr(value, "numerator") and not isinstance(value, int):
        return {"exact": f"{value.numerator}/{value.denominator}", "rounded": fixed(value, 4)}
    return value


def fields_json(obj: Any) -> dict[str, Any]:
    """A flat dataclass of figures (``Summary``, ``VenueRow``, ``VenueUsage``) as JSON."""
    return {k: _exact(getattr(obj, k)) for k in obj.__dataclass_fields__}


def order_json(r: OrderReport) -> dict[str, Any]:
    """The figures of one order report as JSON (integers exact, ratios exact and rounded)."""
    skip = {"parent", "market", "venues", "record", "limit_breaches"}
    body = {k: _exact(getattr(r, k)) for k in r.__dataclass_fields__ if k not in skip}
    body["order"] = r.parent.id
    body["venues"] = [fields_json(v) for v in r.venues]
    body["limit_breaches"] = [fill_to_json(f) for f in r.limit_breaches]
    return body


def _write(out: Path, stem: str, doc: Document, body: dict[str, Any]) -> None:
    (out / f"{stem}.html").write_text(render_html(doc), encoding="utf-8")
    (out / f"{stem}.pdf").write_bytes(render_pdf(doc))
    (out / f"{stem}.json").write_text(json.dumps(body, indent=2), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI (see the module docstring); returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m keeper.trading.bestex", description="Best-execution reports (HTML, PDF, JSON)"
    )
    parser.add_argument("command", choices=("order", "period"))
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--records", type=Path, help="JSON file of execution records")
    parser.add_argument("--database-url", help="routing's database (with --order)")
    parser.add_argument("--order", action="append", default=[], help="order id (repeatable)")
    parser.add_argument("--from", dest="start", help="period start, ISO 8601 (inclusive)")
    parser.add_argument("--to", dest="end", help="period end, ISO 8601 (exclusive)")
    args = parser.parse_args(argv)
    if (args.records is None) == (args.database_url is None):
        parser.error("give exactly one of --records and --database-url")
    try:
        start, end = _ms(args.start), _ms(args.end)
        if args.records is not None:
            records = _records_from_file(args.records)
            if args.order:
                records = [r for r in records if r.parent.id in set(args.order)]
        else:
            if not args.order:
                parser.error("--database-url needs --order ID (one or more)")
            records = _records_from_db(args.database_url, args.order)
        reports = [analyse(r) for r in records]
    except (RecordError, ValueError, OSError, RecursionError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    if args.command == "order":
        used: set[str] = set()
        for i, r in enumerate(reports):
            stem = "bestex-" + (re.sub(r"[^A-Za-z0-9_.-]", "_", r.parent.id)[:100].lstrip(".") or "order")
            stem = stem if stem not in used else f"{stem}-{i}"
            used.add(stem)
            _write(args.out, stem, order_document(r), order_json(r))
        print(f"{len(reports)} order report(s) written to {args.out}")
        return 0
    summaries = summarise(reports, start, end)
    _write(
        args.out,
        "bestex-period",
        period_document(summaries, reports, start, end),
        {
            "from_ms": start,
            "to_ms": end,
            "summaries": {q: fields_json(s) for q, s in summaries.items()},
            "venues": [fields_json(u) for u in venue_usage(reports, start, end)],
            "orders": [order_json(r) for r in in_period(reports, start, end)],
        },
    )
    print(f"period report of {sum(s.orders for s in summaries.values())} order(s) written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
