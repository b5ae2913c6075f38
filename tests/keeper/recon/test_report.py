"""Reports for people: HTML and PDF with the figures, the breaks and their resolution; the PDF is
rendered to an image (pypdfium2) and read back."""

from __future__ import annotations

from datetime import UTC, datetime

import pypdfium2 as pdfium
import pytest

from keeper.ledger import TransferSpec
from keeper.prices import StaticPrices
from keeper.recon import Reconciler

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>&<b>"


@pytest.fixture
def run_with_breaks(ledger, engine, book, resolver):
    """A type 1 run whose BTC location cannot be read: one critical break, resolved with a note."""
    rec = Reconciler(engine, book, StaticPrices({"BTC": 9_000_000}, NOW))
    ledger.post(TransferSpec("d1", ledger.omnibus_account("BTC", "btc:cold"),
                             ledger.client_account(HOSTILE, "BTC"), 123_456_789))
    run = rec.run_type1(None, run_key="daily:2026-11-23", now=NOW)
    (crit,) = [b for b in book.breaks(run.id) if b.asset == "BTC"]
    book.resolve(crit.id, resolver, f"cold wallet offline; verified by hand {HOSTILE}")
    return rec, run, crit


def pdf_pages(data: bytes) -> list[tuple[str, object]]:
    """(text, PIL image) of each page."""
    pdf = pdfium.PdfDocument(data)
    out = []
    for page in pdf:
        out.append((page.get_textpage().get_text_range(), page.render(scale=1.5).to_pil()))
    return out


def test_pdf_shows_the_figures_breaks_and_resolution(run_with_breaks, resolver) -> None:
    rec, run, crit = run_with_breaks
    pages = pdf_pages(rec.render(run.id, "pdf"))
    text = " ".join(" ".join(t.split()) for t, _ in pages)
    for expected in ("Type 1: sub-ledger vs blockchain", "daily:2026-11-23", "FAIL",
                     "1.23456789 BTC", "$111,111.12",  # 1.23456789 BTC at $90,000, rounded up
                     "critical", "resolved", resolver, "cold wallet offline", "btc:cold"):
        assert expected in text, expected
    for _, image in pages:
        gray = image.convert("L")
        lo, hi = gray.getextrema()
        assert hi - lo > 100  # ink on paper, not a blank page
        dark = sum(1 for v in gray.getdata() if v < 128)
        assert dark > 2000


def test_html_shows_the_same_and_escapes_data(run_with_breaks, resolver) -> None:
    rec, run, crit = run_with_breaks
    html = rec.render(run.id, "html")
    assert "1.23456789 BTC" in html and "$111,111.12" in html and resolver in html
    assert "cold wallet offline" in html and "critical" in html
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_passing_run_says_so(engine, book) -> None:
    run = Reconciler(engine, book, StaticPrices({}, NOW)).run_type1(None, run_key="empty")
    assert run.status == "PASS"
    text = " ".join(t for t, _ in pdf_pages(Reconciler(engine, book, StaticPrices({}, NOW))
                                            .render(run.id, "pdf")))
    assert "every figure reconciles" in text and "PASS" in text


def test_type2_report_lists_the_customers_and_their_differences(engine, book, corebank) -> None:
    rec = Reconciler(engine, book, StaticPrices({}, NOW))
    corebank.add(HOSTILE, "dep", "deposit", 1_000_00)
    corebank.overrides[HOSTILE] = 1_250_00
    corebank.add("7890", "dep", "deposit", 500_000_00)
    corebank.add("7890", "ord-1", "buy", -300_000_00, "USDC", 300_000 * 10**6, "trade:ord-1")
    run = rec.run_type2(corebank, run_key="t2")
    text = " ".join(" ".join(t.split()) for t, _ in pdf_pages(rec.render(run.id, "pdf")))
    for expected in ("Type 2: core banking vs sub-ledger", "$1,250.00", "$1,000.00", "$250.00",
                     "ord-1", "300,000.000000 USDC", "-$300,000.00", "critical", "investigate"):
        assert expected in text, expected
    html = rec.render(run.id, "html")
    assert "&lt;script&gt;" in html and "<script>" not in html
