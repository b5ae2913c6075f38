"""Best-execution reports for compliance: one order, or a period (many orders), as HTML (Jinja2,
autoescaped) and PDF (reportlab).

Both formats render the same :class:`Document` (built once by :func:`order_document` or
:func:`period_document`): a title, a subtitle, sections of label/value facts and tables. Every
text that comes from outside (order and client ids, venue names, policy reasons) is data: escaped
in HTML, markup-escaped in PDF paragraphs. Figures are formatted from the exact values with
:func:`keeper.trading.bestex.analytics.fixed` (half away from zero): bps to 2 decimals, prices to 2
decimals of the quote currency, shares to 1 decimal of a percent.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from xml.sax.saxutils import escape

from jinja2 import Environment, select_autoescape
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from keeper.trading.bestex.analytics import OrderReport, Summary, fixed, in_period, money, venue_usage
from keeper.trading.types import MARKETS, Market


@dataclass(frozen=True)
class Section:
    """A heading with label/value ``facts`` and/or a table (``columns`` and ``rows``)."""

    heading: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class Document:
    """What a report shows, format-free."""

    title: str
    subtitle: str
    sections: list[Section]


def _bps(x: Fraction | None) -> str:
    return "n/a" if x is None else f"{fixed(x, 2)} bps"


def _price(x: Fraction | int | None, market: Market) -> str:
    """A price (quote minor units per whole base unit) in quote units, 2 decimals past the minor unit."""
    if x is None:
        return "n/a"
    text = fixed(Fraction(x) / 10**market.quote_decimals, market.quote_decimals + 2)
    whole, _, frac = text.partition(".")
    sign, whole = ("-", whole[1:]) if whole.startswith("-") else ("", whole)
    return f"{sign}{market.quote} {int(whole):,}.{frac}"


def _amount(units: int, market: Market) -> str:
    whole, frac = divmod(units, 10**market.base_decimals)
    return f"{whole:,}.{frac:0{market.base_decimals}d} {market.base}"


def _money(x: int | None, market: Market) -> str:
    return "n/a" if x is None else money(x, market)


def _quoted(quote: str) -> Market:
    """A market quoted in ``quote`` (for its quote decimals)."""
    return next(mk for mk in MARKETS.values() if mk.quote == quote)


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def order_document(r: OrderReport) -> Document:
    """The report of one order."""
    p, m = r.parent, r.market
    order = Section(
        "Order",
        [
            ("Order", p.id),
            ("Client", p.client_id),
            ("Jurisdiction / client type", f"{p.jurisdiction} / {p.client_type}"),
            ("Market / side", f"{p.symbol} {p.side}"),
            ("Amount ordered", _amount(p.amount, m)),
            ("Limit price", _price(p.limit_price, m) if p.limit_price else "market"),
            ("Created", _when(p.created_at)),
            ("Amount filled", _amount(r.filled, m)),
        ],
    )
    quality = Section(
        "Execution quality",
        [
            ("Arrival price (consensus mid)", _price(r.arrival_mid, m)),
            ("VWAP achieved", _price(r.vwap, m)),
            ("All-in price (fees included)", _price(r.all_in_price, m)),
            ("Slippage vs arrival", _bps(r.slippage_vs_arrival_bps)),
            ("All-in slippage vs arrival", _bps(r.all_in_slippage_vs_arrival_bps)),
            ("Slippage vs mid of venues used", _bps(r.slippage_vs_mid_bps)),
            ("Notional", _money(r.notional, m)),
            ("Fees", f"{_money(r.fees, m)} ({_bps(r.fee_bps)})"),
            ("All-in", _money(r.all_in, m)),
            ("Fills beyond the limit price", str(len(r.limit_breaches)) if r.limit_breaches else "none"),
        ],
        note="Positive slippage is adverse to the client. bps rounded half away from zero.",
    )
    if r.baseline is None:
        verdict = [("Best single venue", "none could fill the quantity alone: not compared")]
    else:
        verdict = [
            ("Best single venue", r.baseline),
            ("Price improvement", f"{_money(r.improvement, m)} ({_bps(r.improvement_bps)})"),
            ("Beat the best single venue", "yes" if r.beats_baseline else "no"),
        ]
    verdict += [("Best venue alone, any venue", r.best_overall or "n/a")]
    if r.forbidden_best:
        verdict += [
            ("Best price was on a forbidden venue", r.forbidden_best),
            ("Cost of compliance vs that venue alone", _money(r.compliance_cost, m)),
        ]
    verdict += [("Cost of compliance planned by routing", _money(r.routed_compliance_cost, m))]
    venues = Section(
        "Venue comparison",
        columns=[
            "venue",
            "status",
            "bid",
            "ask",
            "taker",
            "filled",
            "share",
            "cost + fees",
            "alone: all-in",
            "note",
        ],
        rows=[
            [
                v.venue,
                v.status,
                _price(v.best_bid, m),
                _price(v.best_ask, m),
                f"{fixed(Fraction(v.taker_ppm, 100), 2)} bps",
                _amount(v.filled, m),
                f"{fixed(v.share * 100, 1)} %",
                _money(v.notional + v.fee, m),
                _money(v.alone_all_in, m)
                if v.alone_complete
                else f"cannot fill ({_amount(v.alone_filled, m)})",
                v.note,
            ]
            for v in r.venues
        ],
        note="'alone': the quantity filled, walked through that venue's arrival book, plus its taker fee.",
    )
    excluded = Section(
        "Exclusions and policy blocks",
        columns=["venue", "round", "reason", "detail"],
        rows=[[e.venue, str(e.round), e.reason, e.detail] for e in r.record.excluded]
        + [[b.venue, "policy", b.rule, b.reason] for b in r.record.blocked],
    )
    fills = Section(
        "Fills",
        columns=["venue", "order", "amount", "price", "cost", "fee", "time"],
        rows=[
            [
                f.venue,
                f.order_id,
                _amount(f.amount, m),
                _price(f.price, m),
                _money(f.cost, m),
                _money(f.fee, m),
                _when(f.timestamp),
            ]
            for f in r.record.fills
        ],
    )
    return Document(
        f"Best execution report: order {p.id}",
        f"{p.symbol} {p.side} for client {p.client_id}",
        [order, quality, Section("Against the best single venue", verdict), venues, excluded, fills],
    )


def period_document(
    summaries: dict[str, Summary], reports: Sequence[OrderReport], start_ms: int | None, end_ms: int | None
) -> Document:
    """The report of a period: the aggregates per quote currency, then one line per order."""
    span = (
        f"{_when(start_ms) if start_ms is not None else 'start'} to "
        f"{_when(end_ms) if end_ms is not None else 'now'}"
    )
    sections = []
    for quote, s in summaries.items():
        m = _quoted(quote)
        share = "n/a" if s.share_beating is None else f"{fixed(s.share_beating * 100, 1)} %"
        sections.append(
            Section(
                f"Summary ({quote})",
                [
                    ("Orders", str(s.orders)),
                    ("Orders filled", str(s.filled_orders)),
                    ("Orders compared with the best single venue", str(s.compared)),
                    ("Beat the best single venue", f"{s.beating} ({share})"),
                    ("Tied", str(s.tied)),
                    ("Mean price improvement", _bps(s.mean_improvement_bps)),
                    ("Weighted price improvement", _bps(s.weighted_improvement_bps)),
                    ("Total price improvement", _money(s.total_improvement, m)),
                    ("Mean slippage vs arrival", _bps(s.mean_slippage_vs_arrival_bps)),
                    ("Fees", _money(s.fees, m)),
                    ("All-in", _money(s.all_in, m)),
                    ("Orders whose best price was on a forbidden venue", str(s.forbidden_best)),
                    ("Cost of compliance vs those venues", _money(s.compliance_cost, m)),
                    ("Cost of compliance planned by routing", _money(s.routed_compliance_cost, m)),
                    ("Orders with fills beyond their limit price", str(s.limit_breach_orders)),
                ],
            )
        )
    usage = venue_usage(reports, start_ms, end_ms)
    for quote in summaries:
        m = _quoted(quote)
        sections.append(
            Section(
                f"Venues ({quote})",
                columns=[
                    "venue",
                    "orders filled",
                    "notional",
                    "share",
                    "fees",
                    "best alone",
                    "baseline",
                    "blocked by policy",
                    "untrusted price",
                ],
                rows=[
                    [
                        u.venue,
                        str(u.orders_used),
                        _money(u.notional, m),
                        f"{fixed(u.share * 100, 1)} %",
                        _money(u.fees, m),
                        str(u.best_alone),
                        str(u.baseline),
                        str(u.blocked),
                        str(u.untrusted),
                    ]
                    for u in usage
                    if u.quote == quote
                ],
                note="'best alone': orders where the venue alone had the best all-in price of all venues; "
                "'baseline': the best the policy allowed.",
            )
        )
    in_span = in_period(reports, start_ms, end_ms)
    sections.append(
        Section(
            "Orders",
            columns=[
                "order",
                "client",
                "market",
                "side",
                "filled",
                "VWAP",
                "slippage",
                "improvement",
                "baseline",
                "forbidden best",
            ],
            rows=[
                [
                    r.parent.id,
                    r.parent.client_id,
                    r.parent.symbol,
                    str(r.parent.side),
                    _amount(r.filled, r.market),
                    _price(r.vwap, r.market),
                    _bps(r.slippage_vs_arrival_bps),
                    _bps(r.improvement_bps),
                    r.baseline or "none",
                    r.forbidden_best or "",
                ]
                for r in in_span
            ],
        )
    )
    return Document("Best execution report: period", span, sections)


_HTML = Environment(autoescape=select_autoescape(default=True, default_for_string=True)).from_string("""\
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ d.title }}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #999;padding:3px 7px;text-align:left}th{background:#eee}.note{color:#555}</style>
</head><body>
<h1>{{ d.title }}</h1><p>{{ d.subtitle }}</p>
{% for s in d.sections %}<h2>{{ s.heading }}</h2>
{% if s.facts %}<table>{% for k, v in s.facts %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}
</table>{% endif %}
{% if s.columns %}<table><tr>{% for c in s.columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in s.rows %}<tr>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}</table>{% endif %}
{% if s.note %}<p class="note">{{ s.note }}</p>{% endif %}
{% endfor %}</body></html>
""")


def render_html(doc: Document) -> str:
    """``doc`` as a self-contained HTML page (every value escaped)."""
    return _HTML.render(d=doc)


def render_pdf(doc: Document) -> bytes:
    """``doc`` as a PDF (A4 landscape)."""
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("cell", fontSize=7, leading=8.5)
    buf = io.BytesIO()
    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
        ]
    )

    def cell(text: str, bold: bool = False) -> Paragraph:
        body = escape(text)
        return Paragraph(f"<b>{body}</b>" if bold else body, small)

    story: list[object] = [
        Paragraph(escape(doc.title), styles["Title"]),
        Paragraph(escape(doc.subtitle), styles["Normal"]),
        Spacer(1, 8),
    ]
    for s in doc.sections:
        story.append(Paragraph(escape(s.heading), styles["Heading2"]))
        if s.facts:
            t = Table([[cell(k, True), cell(v)] for k, v in s.facts], colWidths=[220, 420])
            t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey)]))
            story.append(t)
        if s.columns:
            t = Table(
                [[cell(c, True) for c in s.columns]] + [[cell(v) for v in row] for row in s.rows],
                repeatRows=1,
            )
            t.setStyle(grid)
            story.append(t)
        if s.note:
            story.append(Paragraph(escape(s.note), styles["Italic"]))
        story.append(Spacer(1, 6))
    SimpleDocTemplate(buf, pagesize=landscape(A4), title=doc.title, leftMargin=30, rightMargin=30).build(
        story
    )
    return buf.getvalue()
