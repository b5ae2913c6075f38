"""What a client holds and did: balances, movements (cursor pages), pending deposits and monthly
statements, read from the ledger through its API.

Ledger asset keys are the symbols of :mod:`keeper.assets` (``ETH``, ``USDC``, ``USDT``, ``BTC``).
Amounts stay Python ``int`` in base units all the way; rendering them is the caller's business.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

from keeper.assets import ASSETS, Asset
from keeper.ledger import Ledger, Statement
from keeper.ledger.statements import (
    ClientPosting,
    client_open_credits,
    client_posting,
    client_postings_page,
)


@dataclass(frozen=True, slots=True)
class AssetBalance:
    """A client's holding of one asset, in base units.

    ``balance`` is posted credits minus posted debits; ``available`` also deducts open holds
    (pending debits, e.g. withdrawals in flight); ``pending_credits`` are incoming holds.
    """

    asset: Asset
    balance: int
    available: int
    pending_credits: int


def balances(ledger: Ledger, client_id: str) -> list[AssetBalance]:
    """The client's balance of every custodied asset (zero where it never held any).

    Read-only: one query over the client's existing accounts; nothing is created on a read.
    """
    held = ledger.client_balances(client_id)
    out = []
    for asset in ASSETS.values():
        bal = held.get(asset.symbol)
        if bal is None:
            out.append(AssetBalance(asset, 0, 0, 0))
        else:
            out.append(AssetBalance(asset, bal.credit_balance, bal.available, bal.credits_pending))
    return out


def statement(ledger: Ledger, client_id: str, asset: Asset, year: int, month: int) -> Statement:
    """The client's statement of ``asset`` for ``year``-``month`` (running balance per line)."""
    if not 1 <= month <= 12:
        raise ValueError("month must be 1 to 12")
    return ledger.statement(client_id, asset.symbol, year, month)


# ------------------------------------------------------------------ transactions (cursor pages)
MAX_LIMIT = 200


class InvalidCursor(ValueError):  # noqa: N818 - reads as what happened
    """A page cursor that is malformed, another client's, or minted with other filters."""


@dataclass(frozen=True, slots=True)
class TransactionFilter:
    """Filters of a transactions listing (all optional): asset symbol, category, [since, until)."""

    asset: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def digest(self, client_id: str) -> str:
        """What a cursor is bound to: the client and these filters."""
        text = "\0".join([client_id, self.asset or "", self.kind or "",
                          self.since.isoformat() if self.since else "",
                          self.until.isoformat() if self.until else ""])
        return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class TransactionPage:
    """A page of a client's movements, newest first; ``next_cursor`` None on the last page."""

    items: list[ClientPosting]
    next_cursor: str | None


def encode_cursor(client_id: str, flt: TransactionFilter, before: int) -> str:
    """An opaque cursor: the position after which the next page starts, bound to the client
    and the filters (the listing is scoped to the caller anyway: binding makes a replayed or
    re-filtered cursor an explicit error instead of a confusing page)."""
    raw = json.dumps({"v": 1, "b": before, "f": flt.digest(client_id)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(client_id: str, flt: TransactionFilter, cursor: str) -> int:
    """The position in ``cursor``; :class:`InvalidCursor` unless this client minted it for
    these filters."""
    try:
        if len(cursor) > 200:
            raise ValueError
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        before = data["b"]
        ok = (data["v"] == 1 and type(before) is int and 0 < before < 2**63
              and hmac.compare_digest(str(data["f"]), flt.digest(client_id)))
    except (ValueError, TypeError, KeyError, binascii.Error):
        ok = False
    if not ok:
        raise InvalidCursor("invalid cursor: use the next_cursor of the same listing")
    return before


def transactions(ledger: Ledger, client_id: str, flt: TransactionFilter, *,
                 cursor: str | None = None, limit: int = 50) -> TransactionPage:
    """A page of ``client_id``'s posted movements matching ``flt``, newest first."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1 to {MAX_LIMIT}")
    before = decode_cursor(client_id, flt, cursor) if cursor else None
    rows = client_postings_page(ledger.engine, client_id, before=before, limit=limit + 1,
                                asset=flt.asset, category=flt.kind, since=flt.since,
                                until=flt.until)
    more = len(rows) > limit
    rows = rows[:limit]
    return TransactionPage(rows, encode_cursor(client_id, flt, rows[-1].seq) if more else None)


def transaction(ledger: Ledger, client_id: str, transfer_id: str) -> ClientPosting | None:
    """One of the client's posted movements by id; None when missing or someone else's."""
    return client_posting(ledger.engine, client_id, transfer_id)


def pending_deposits(ledger: Ledger, client_id: str) -> list[ClientPosting]:
    """The client's incoming credits not yet posted (open incoming holds), oldest first."""
    return client_open_credits(ledger.engine, client_id)


def monthly_statements(ledger: Ledger, client_id: str, year: int,
                       month: int) -> list[tuple[Asset, Statement]]:
    """The client's statement of ``year``-``month`` for every asset it holds an account in."""
    out = []
    for asset in ASSETS.values():
        st = statement(ledger, client_id, asset, year, month)
        if st.account_id:
            out.append((asset, st))
    return out


# ------------------------------------------------------------------ statement PDF
def display_amount(amount: int, decimals: int) -> str:
    """``amount`` base units as a decimal number of whole units, exactly (no floats):
    ``display_amount(-1500001, 6) == "-1.500001"``."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**decimals)
    text = f"{whole:,}"
    if decimals:
        digits = str(frac).rjust(decimals, "0").rstrip("0")
        text += f".{digits}" if digits else ""
    return sign + text


def statement_pdf(client_name: str, client_id: str, year: int, month: int,
                  statements: list[tuple[Asset, Statement]], *, bank_name: str,
                  generated_at: datetime) -> bytes:
    """The month's statement as an A4 PDF a person can file: the bank, the client, the period,
    and per asset the opening balance, every movement with its running balance and the closing
    balance (amounts in whole units, exact). Every text from data is escaped."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from keeper.ledger.statements import month_bounds

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    right = small.clone("right", alignment=2)

    def p(text: str, style: object = small) -> Paragraph:
        return Paragraph(escape(text), style)

    start, end = month_bounds(year, month)
    period = f"{start:%d %B %Y} to {end - timedelta(days=1):%d %B %Y} (UTC)"
    story: list[object] = [
        p(bank_name, styles["Title"]), p("Custody account statement", styles["Heading2"]),
        Table([[p("Client"), p(f"{client_name} ({client_id})")], [p("Period"), p(period)],
               [p("Issued"), p(f"{generated_at:%d %B %Y %H:%M} UTC")]],
              colWidths=[30 * mm, 140 * mm]),
        Spacer(1, 6 * mm)]
    if not statements:
        story.append(p("No accounts and no movements in this period.", styles["BodyText"]))
    # Dates, amounts and movements that fit their column are plain cells (drawn as text, never
    # parsed as markup: nothing to escape), styled by the table; only a movement too wide for its
    # column is a wrapping Paragraph. Paragraphs per cell made a long statement ~4x slower.
    movement_width = 52 * mm - 12  # the column less the table's 6 pt padding each side

    def movement(text: str) -> object:
        return text if stringWidth(text, "Helvetica", 8) <= movement_width else p(text)

    grid = TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                       ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                       ("VALIGN", (0, 0), (-1, -1), "TOP"),
                       ("FONTSIZE", (0, 1), (-1, -1), 8), ("LEADING", (0, 1), (-1, -1), 10),
                       ("ALIGN", (2, 1), (3, -1), "RIGHT")])
    for asset, st in statements:
        def amt(v: int, d: int = asset.decimals) -> str:
            return display_amount(v, d)

        rows: list[list[object]] = [
            [p("Date"), p("Movement"), p(f"Amount ({asset.symbol})", right),
             p(f"Balance ({asset.symbol})", right)],
            [f"{start:%Y-%m-%d}", "Opening balance", "", amt(st.opening_balance)]]
        rows += [[f"{ln.at:%Y-%m-%d %H:%M}",
                  movement(ln.transfer_id + (f" - {ln.reference}" if ln.reference else "")),
                  amt(ln.amount), amt(ln.balance)] for ln in st.lines]
        rows.append([f"{end - timedelta(days=1):%Y-%m-%d}", "Closing balance", "",
                     amt(st.closing_balance)])
        story += [p(f"{asset.symbol} ({asset.chain}, {asset.decimals} decimals)",
                    styles["Heading3"]),
                  Table(rows, colWidths=[26 * mm, 52 * mm, 46 * mm, 46 * mm], repeatRows=1,
                        style=grid),
                  Spacer(1, 5 * mm)]
    story.append(p("Amounts are exact; the JSON statement gives them in base units."))
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=A4, title=f"{bank_name} statement {year}-{month:02d}",
                      author=bank_name, leftMargin=20 * mm, rightMargin=20 * mm).build(story)
    return buf.getvalue()
