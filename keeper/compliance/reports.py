"""SAR drafts and CTRs as files a filer can submit: the structured JSON, an HTML rendering
(jinja2, autoescaped) and a PDF (reportlab); and the SAR filing-deadline check (30 days).

Amounts stay integers: base units as a decimal string, USD as cents with a formatted dollar
string beside them for the reader.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table
from sqlalchemy import Engine, select, update

from keeper.audit import record_in
from keeper.compliance.models import ReportRow

_REP = ReportRow.__table__
#: a draft SAR within this many days of its deadline is alerted
WARN_DAYS = 5

_HTML = Environment(autoescape=select_autoescape(default=True, default_for_string=True)).from_string("""\
<!doctype html><html><head><meta charset="utf-8"><title>{{ r.kind }} {{ id }}</title></head><body>
<h1>{{ title }} #{{ id }}</h1>
<table>{% for k, v in rows %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>
<h2>Reasons</h2><ul>{% for x in r.reasons %}<li>{{ x }}</li>{% endfor %}</ul>
</body></html>
""")
_TITLES = {"SAR": "Suspicious Activity Report (draft)", "CTR": "Currency Transaction Report"}


def dollars(cents: int) -> str:
    """``123456`` -> ``$1,234.56`` (integer arithmetic)."""
    sign, cents = ("-", -cents) if cents < 0 else ("", cents)
    return f"{sign}${cents // 100:,}.{cents % 100:02d}"


def _rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    return [("Client", r["client_id"]), ("Movement", r["movement_id"]), ("Asset", r["asset"]),
            ("Amount (base units)", r["units"]), ("Value (USD)", dollars(r["usd_cents"])),
            ("Time (UTC)", r["at"]), ("Case", str(r["case_id"])), ("Rules version", str(r["rules_version"])),
            ("Filing due", r["due_at"])]


def load(engine: Engine, report_id: int) -> dict[str, Any]:
    """The structured body of report ``report_id`` (``KeyError`` if there is none)."""
    with engine.connect() as conn:
        row = conn.execute(select(_REP).where(_REP.c.id == report_id)).first()
    if row is None:
        raise KeyError(f"no report {report_id}")
    return {"id": row.id, "status": row.status, **json.loads(row.body)}


def render_html(report: dict[str, Any]) -> str:
    """A human-readable HTML page of ``report`` (every value escaped)."""
    return _HTML.render(r=report, id=report["id"], title=_TITLES[report["kind"]], rows=_rows(report))


def render_pdf(report: dict[str, Any]) -> bytes:
    """A one-page PDF of ``report``."""
    buf = io.BytesIO()
    styles = getSampleStyleSheet()
    esc = _HTML.environment.filters["escape"]
    story = [Paragraph(f"{_TITLES[report['kind']]} #{report['id']}", styles["Title"]), Spacer(1, 12),
             Table([[k, v] for k, v in _rows(report)]), Spacer(1, 12),
             Paragraph("Reasons", styles["Heading2"])]
    story += [Paragraph(str(esc(x)), styles["Normal"]) for x in report["reasons"]]
    SimpleDocTemplate(buf, pagesize=A4, title=f"{report['kind']} {report['id']}").build(story)
    return buf.getvalue()


def write_files(engine: Engine, report_id: int, folder: Path) -> list[Path]:
    """Write ``<kind>-<id>.json``, ``.html`` and ``.pdf`` into ``folder``; returns their paths."""
    report = load(engine, report_id)
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{report['kind'].lower()}-{report_id}"
    out = [stem.with_suffix(".json"), stem.with_suffix(".html"), stem.with_suffix(".pdf")]
    out[0].write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
    out[1].write_text(render_html(report), encoding="utf-8")
    out[2].write_bytes(render_pdf(report))
    return out


def mark_filed(engine: Engine, report_id: int, actor: str, reference: str) -> None:
    """Record that a report was filed (with the regulator's reference), audited."""
    with engine.begin() as conn:
        n = conn.execute(update(_REP).where(_REP.c.id == report_id, _REP.c.status == "draft")
                         .values(status="filed")).rowcount
        if n != 1:
            raise KeyError(f"no draft report {report_id}")
        params = {"report": report_id, "reference": reference}
        record_in(conn, actor, "compliance.report.filed", params, "filed")


@dataclass(frozen=True)
class DueSar:
    """A SAR draft near or past its filing deadline."""

    report_id: int
    client_id: str
    due_at: datetime
    overdue: bool


def check_sar_deadlines(engine: Engine, now: datetime, alert: Callable[[str, str], None]) -> list[DueSar]:
    """The job: alert every draft SAR due within :data:`WARN_DAYS` days or overdue
    (``alert(subject, body)``); returns them, most urgent first."""
    with engine.connect() as conn:
        rows = conn.execute(select(_REP.c.id, _REP.c.client_id, _REP.c.due_at)
                            .where(_REP.c.kind == "SAR", _REP.c.status == "draft",
                                   _REP.c.due_at <= now + timedelta(days=WARN_DAYS))
                            .order_by(_REP.c.due_at)).all()
    due = []
    for rid, client, at in rows:
        at = at if at.tzinfo else at.replace(tzinfo=now.tzinfo)
        item = DueSar(rid, client, at, at <= now)
        alert(f"SAR {rid} {'OVERDUE' if item.overdue else 'due'} {at.isoformat()}",
              f"SAR draft {rid} for client {client} must be filed by {at.isoformat()}")
        due.append(item)
    return due
