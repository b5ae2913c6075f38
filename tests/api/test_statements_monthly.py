"""Monthly statements of every asset: JSON, and a PDF checked by rendering its page to an image."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest
from fastapi.testclient import TestClient

from keeper.clients.portfolio import display_amount
from strongroom_testkit.apiworld import BIG, World


def test_json_statement_has_every_held_asset_and_own_lines(api: TestClient, world: World) -> None:
    r = api.get(f"/v1/statements/{world.year}/{world.month}", headers=world.alice.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["client_id"], body["client_name"]) == (world.alice.client.id, "Alice Capital")
    by = {a["asset"]["symbol"]: a for a in body["assets"]}
    assert set(by) == {"USDC", "ETH"}
    usdc = by["USDC"]
    assert usdc["opening_balance"] == "0"
    assert usdc["closing_balance"] == str(BIG + 10 - 4)
    assert [(ln["transfer_id"], ln["amount"]) for ln in usdc["lines"]] == [
        ("a-dep-1", str(BIG)), ("a-dep-2", "10"), ("a-wd-1", "-4")]
    bob = api.get(f"/v1/statements/{world.year}/{world.month}", headers=world.bob.headers).json()
    assert {a["asset"]["symbol"] for a in bob["assets"]} == {"USDC", "BTC"}
    assert "a-dep-1" not in str(bob)


def _render(pdf: bytes) -> tuple[int, str, object]:
    doc = pdfium.PdfDocument(pdf)
    page = doc[0]
    text = page.get_textpage().get_text_range()
    image = page.render(scale=1.5).to_pil().convert("L")
    return len(doc), text, image


@pytest.mark.parametrize("how", ["query", "suffix"])
def test_pdf_statement_renders_what_a_person_needs(api: TestClient, world: World, how: str) -> None:
    path = f"/v1/statements/{world.year}/{world.month}"
    r = (api.get(path, params={"format": "pdf"}, headers=world.alice.headers) if how == "query"
         else api.get(path + ".pdf", headers=world.alice.headers))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    pages, text, image = _render(r.content)
    assert pages == 1
    flat = " ".join(text.split())
    for needed in ("Strongroom Custody", "Custody account statement", "Alice Capital",
                   world.alice.client.id, "Opening balance", "Closing balance", "USDC", "ETH",
                   display_amount(BIG + 10 - 4, 6), display_amount(10**21 + 1, 18), "a-wd-1"):
        assert needed in flat, needed
    assert "Bob" not in flat and "b-dep-1" not in flat
    # the page image has ink: a dark title band at the top, a table below, margins left white
    width, height = image.size  # type: ignore[attr-defined]
    top = image.crop((0, 0, width, height // 6))  # type: ignore[attr-defined]
    body = image.crop((0, height // 6, width, height // 2))  # type: ignore[attr-defined]
    margin = image.crop((0, 0, width // 20, height))  # type: ignore[attr-defined]
    assert min(top.getdata()) < 80  # black title text
    assert sum(1 for px in body.getdata() if px < 128) > 500  # the statement's table and lines
    assert min(margin.getdata()) > 200  # nothing printed into the left margin


def test_hostile_client_name_is_text_not_markup(world: World, tmp_path: object) -> None:
    from datetime import UTC, datetime

    from keeper.assets import ASSETS
    from keeper.clients.portfolio import statement_pdf
    from keeper.ledger.statements import Statement

    pdf = statement_pdf("<b>Evil & Co</b><font size=90>", "cid", 2026, 2,
                        [(ASSETS["USDC"], Statement(1, 2026, 2, 5, [], 5))],
                        bank_name="Bank <i>", generated_at=datetime(2026, 3, 1, tzinfo=UTC))
    _, text, _ = _render(pdf)
    assert "<b>Evil & Co</b><font size=90>" in text and "Bank <i>" in text
    assert "28 February 2026" in text  # the period ends on the month's last day


@pytest.mark.parametrize(("amount", "decimals", "shown"), [
    (0, 6, "0"), (1, 6, "0.000001"), (-1500001, 6, "-1.500001"), (10**21 + 1, 18,
                                                                   "1,000.000000000000000001"),
    (123, 8, "0.00000123"), (5_000_000, 6, "5"), (7, 0, "7")])
def test_display_amount_is_exact(amount: int, decimals: int, shown: str) -> None:
    assert display_amount(amount, decimals) == shown


def test_statement_bounds(api: TestClient, world: World) -> None:
    for path in ("/v1/statements/1999/1", "/v1/statements/2026/13", "/v1/statements/2026/0",
                 "/v1/statements/2026/1?format=doc"):
        assert api.get(path, headers=world.alice.headers).status_code == 422, path
    assert api.get(f"/v1/statements/{world.year}/{world.month}").status_code == 401
    empty = api.get("/v1/statements/2001/1", headers=world.alice.headers).json()
    assert all(a["lines"] == [] and a["closing_balance"] == "0" for a in empty["assets"])


def test_a_long_month_spans_pages_with_the_header_repeated() -> None:
    from datetime import UTC, datetime

    from keeper.assets import ASSETS
    from keeper.clients.portfolio import statement_pdf
    from keeper.ledger.statements import Statement, StatementLine

    at = datetime(2026, 5, 3, tzinfo=UTC)
    lines = [StatementLine(at, f"dep-{n}", "single", f"block {n}", 10**6, 10**6 * (n + 1))
             for n in range(150)]
    pdf = statement_pdf("Many Movements Ltd", "cid", 2026, 5,
                        [(ASSETS["USDC"], Statement(1, 2026, 5, 0, lines, 150 * 10**6))],
                        bank_name="Strongroom Custody", generated_at=at)
    doc = pdfium.PdfDocument(pdf)
    texts = [" ".join(doc[i].get_textpage().get_text_range().split()) for i in range(len(doc))]
    assert len(doc) > 1
    assert all("Balance (USDC)" in t for t in texts)  # the table header on every page
    assert "dep-149" in texts[-1] and "Closing balance" in texts[-1] and "150" in texts[-1]
    assert sum(t.count("dep-") for t in texts) == 150
