"""A stored run rendered for people: HTML (jinja2, autoescaped) and PDF (reportlab).

Both show the same content: the run's title, key, type, pinned block, outcome, its figure
tables, and every break with its size class, status, due time and resolution (who, when, note).
Rendering reads the stored run and its breaks as they are now, so a later rendering shows
resolutions made after the run. Every text (customer ids, notes) is data: escaped in HTML, set as
paragraph text (markup-escaped) in the PDF.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from xml.sax.saxutils import escape

from jinja2 import Environment, select_autoescape
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from keeper.recon.breaks import BreakRow, RunRow
from keeper.recon.figures import format_cents, format_units

BREAK_COLUMNS = ["#", "check", "subject", "difference", "USD", "class", "status", "due",
                 "resolution"]

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #999;padding:4px 8px;text-align:left}th{background:#eee}
.FAIL{color:#b00}.PASS{color:#070}</style></head><body>
<h1>{{ title }}</h1>
<p>Run {{ run.id }} &middot; key {{ run.run_key }} &middot; type {{ run.recon_type }}
{% if run.block is not none %}&middot; block {{ run.block }}{% endif %}
&middot; {{ run.created_at.isoformat() }} &middot;
<strong class="{{ run.status }}">{{ run.status }}</strong></p>
{% for t in tables %}<h2>{{ t.title }}</h2>
<table><tr>{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for r in t.rows %}<tr>{% for v in r %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}</table>
{% endfor %}
<h2>Breaks ({{ breaks|length }})</h2>
{% if breaks %}<table><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for r in breaks %}<tr>{% for v in r %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}</table>
{% else %}<p>None: every figure reconciles.</p>{% endif %}
</body></html>
"""
_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else ""


def break_rows(breaks: Sequence[BreakRow]) -> list[list[str]]:
    """Display rows of ``breaks`` (columns :data:`BREAK_COLUMNS`)."""
    rows = []
    for b in breaks:
        diff = (format_cents(b.difference) if b.asset == "USD"
                else format_units(b.difference, b.asset))
        resolution = (f"{b.resolver} at {_when(b.resolved_at)}: {b.note}" if b.resolver
                      else "")
        rows.append([str(b.id), b.kind, b.subject, diff, format_cents(b.usd_cents),
                     str(b.size_class), str(b.status), _when(b.due_at), resolution])
    return rows


def render_html(run: RunRow, breaks: Sequence[BreakRow]) -> str:
    """The run as a self-contained HTML page."""
    return _ENV.from_string(_TEMPLATE).render(
        title=run.figures.get("title", f"Reconciliation run {run.id}"), run=run,
        tables=run.figures.get("tables", []), columns=BREAK_COLUMNS, breaks=break_rows(breaks))


def _table(columns: list[str], rows: list[list[str]], style: object) -> Table:
    data = [[Paragraph(f"<b>{escape(c)}</b>", style) for c in columns]]
    data += [[Paragraph(escape(str(v)), style) for v in r] for r in rows]
    t = Table(data, repeatRows=1)
    t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                           ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                           ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return t


def render_pdf(run: RunRow, breaks: Sequence[BreakRow]) -> bytes:
    """The run as a PDF (A4 landscape) with the same content as :func:`render_html`."""
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("cell", fontSize=8, leading=10)
    title = run.figures.get("title", f"Reconciliation run {run.id}")
    head = (f"Run {run.id} - key {run.run_key} - type {run.recon_type}"
            + (f" - block {run.block}" if run.block is not None else "")
            + f" - {run.created_at.isoformat()} - {run.status}")
    story: list = [Paragraph(escape(title), styles["Title"]),
                   Paragraph(escape(head), styles["BodyText"]), Spacer(1, 8)]
    for t in run.figures.get("tables", []):
        story += [Paragraph(escape(t["title"]), styles["Heading2"]),
                  _table(t["columns"], t["rows"], small), Spacer(1, 6)]
    story.append(Paragraph(f"Breaks ({len(breaks)})", styles["Heading2"]))
    if breaks:
        story.append(_table(BREAK_COLUMNS, break_rows(breaks), small))
    else:
        story.append(Paragraph("None: every figure reconciles.", styles["BodyText"]))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), title=title, invariant=1,
                            leftMargin=28, rightMargin=28, topMargin=28, bottomMargin=28)
    doc.build(story)
    return buf.getvalue()
