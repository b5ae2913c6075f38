"""Compliance reports: the HTML escapes hostile strings, the PDF opens (parsed back with pypdfium2)
and shows the figures; the CLI writes both from a JSON file of records and refuses bad files."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pypdfium2
import pytest

from keeper.trading.bestex import (
    ExecutionRecord,
    analyse,
    order_document,
    period_document,
    record_from_json,
    record_to_json,
    render_html,
    render_pdf,
    summarise,
)
from keeper.trading.bestex.__main__ import main
from keeper.trading.routing import PolicyBlock

HOSTILE = '<script>alert("x")</script>&<b>'


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    doc = pypdfium2.PdfDocument(data)
    try:
        return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    finally:
        doc.close()


def hostile(record: ExecutionRecord) -> ExecutionRecord:
    venue = "deep<img src=x onerror=alert(1)>"
    return replace(
        record,
        parent=replace(record.parent, id=HOSTILE, client_id="c&d</td>"),
        arrivals=tuple(
            replace(a, venue=venue, book=replace(a.book, venue=venue)) if a.venue == "deepbook" else a
            for a in record.arrivals
        ),
        fills=tuple(replace(f, venue=venue) if f.venue == "deepbook" else f for f in record.fills),
        blocked=(PolicyBlock("thirdex", "US.venues", "<iframe>not allowed</iframe>"),),
    )


def test_order_report_html_escapes_hostile_strings(buy: ExecutionRecord) -> None:
    html = render_html(order_document(analyse(hostile(buy))))
    assert "<script>" not in html and "<img" not in html and "<iframe>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;&lt;b&gt;" in html
    assert "deep&lt;img src=x onerror=alert(1)&gt;" in html
    assert "c&amp;d&lt;/td&gt;" in html
    for figure in ("USD 65,002.0000", "1.08 bps", "USD 5.25 (1.61 bps)", "USD 11.26", "USD 6.01"):
        assert figure in html
    assert "<th>Fills beyond the limit price</th><td>none</td>" in html
    breached = replace(buy, parent=replace(buy.parent, limit_price=6_500_000))
    assert "<th>Fills beyond the limit price</th><td>1</td>" in render_html(order_document(analyse(breached)))


def test_order_report_pdf_opens_and_shows_the_figures_and_the_hostile_text_literally(
    buy: ExecutionRecord,
) -> None:
    text = pdf_text(render_pdf(order_document(analyse(hostile(buy)))))
    for figure in (
        "Arrival price (consensus mid)",
        "USD 64,995.0000",
        "VWAP achieved",
        "USD 65,002.0000",
        "1.08 bps",
        "9.08 bps",
        "0.77 bps",
        "USD 26.01 (8.00 bps)",
        "USD 5.25 (1.61 bps)",
        "USD 11.26",
        "fastlane",
        "thirdex",
        "60.0 %",
    ):
        assert figure in text, figure
    assert '<script>alert("x")</script>&<b>' in text.replace("\r", "").replace("\n", "")


def test_period_report_html_and_pdf(buy: ExecutionRecord, sell: ExecutionRecord) -> None:
    reports = [analyse(buy), analyse(sell)]
    doc = period_document(summarise(reports), reports, None, None)
    html = render_html(doc)
    text = pdf_text(render_pdf(doc))
    for out in (html, text):
        assert "1 (50.0 %)" in out  # one of two orders beat the best single venue
        assert "USD 4.12" in out  # total improvement 525 - 113 cents
        assert "ord-1" in out and "ord-2" in out and "-1.74 bps" in out
        assert "Venues (USD)" in out and "58.3 %" in out  # deepbook: 2,274,950 of 3,900,025 cents
    only_sell = period_document(
        summarise(reports, sell.parent.created_at), reports, sell.parent.created_at, None
    )
    assert "ord-1" not in render_html(only_sell)


def test_records_round_trip_through_json(buy: ExecutionRecord, sell: ExecutionRecord) -> None:
    for record in (buy, sell):
        again = record_from_json(json.loads(json.dumps(record_to_json(record))))
        assert again == record
        assert analyse(again) == analyse(record)


def test_cli_writes_order_and_period_reports_from_a_records_file(
    tmp_path: Path, buy: ExecutionRecord, sell: ExecutionRecord, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "records.json"
    src.write_text(json.dumps([record_to_json(hostile(buy)), record_to_json(sell)]))
    out = tmp_path / "out"
    assert main(["order", "--records", str(src), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert "bestex-ord-2.pdf" in names and len(names) == 6
    assert all("/" not in n and not n.startswith("bestex-.") for n in names)
    body = json.loads((out / "bestex-ord-2.json").read_text())
    assert body["improvement"] == -113 and body["baseline"] == "fastlane"
    exact = Fraction(-1_130_000, 649_550)  # = -22600/12991 = -1.73966...
    assert body["improvement_bps"] == {
        "exact": f"{exact.numerator}/{exact.denominator}",
        "rounded": "-1.7397",
    }
    assert "0.77 bps" in pdf_text((out / "bestex-ord-2.pdf").read_bytes())
    breached = replace(buy, parent=replace(buy.parent, id="ord-3", limit_price=6_500_000))
    src.write_text(json.dumps([record_to_json(breached), record_to_json(sell)]))
    assert main(["order", "--records", str(src), "--out", str(out), "--order", "ord-3"]) == 0
    body = json.loads((out / "bestex-ord-3.json").read_text())
    assert [(f["venue"], f["price"], f["amount"]) for f in body["limit_breaches"]] == [
        ("fastlane", 6_500_500, 20_000_000)
    ]
    assert main(["period", "--records", str(src), "--out", str(out), "--from", "2023-11-14T22:14:00"]) == 0
    period = json.loads((out / "bestex-period.json").read_text())
    assert period["summaries"]["USD"]["orders"] == 1 and [o["order"] for o in period["orders"]] == ["ord-2"]
    assert [(v["venue"], v["notional"]) for v in period["venues"]] == [
        ("deepbook", 324_950),
        ("fastlane", 324_975),
    ]
    assert period["venues"][0]["share"]["exact"] == f"{324_950 // 25}/{649_925 // 25}"
    assert "period report of 1 order(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda d: d[0]["fills"][0].__setitem__("amount", 1.5), "record 0 refused: fills.0.amount"),
        (lambda d: d[0]["fills"][0].__setitem__("cost", True), "fills.0.cost"),
        (lambda d: d[1]["parent"].__setitem__("extra", 1), "record 1 refused: parent.extra"),
        (lambda d: d[0]["arrivals"][0]["book"].__setitem__("asks", [[1, 2, 3]]), "arrivals.0.book.asks.0"),
        (lambda d: d[0]["arrivals"][0]["book"].__setitem__("bids", [[1, 1]] * 1001), "arrivals.0.book.bids"),
        (lambda d: d[0]["fills"][0].__setitem__("side", "sell"), "fills.0"),
    ],
)
def test_cli_refuses_a_bad_records_file_naming_the_field(
    tmp_path: Path,
    buy: ExecutionRecord,
    sell: ExecutionRecord,
    capsys: pytest.CaptureFixture[str],
    mutate,
    needle: str,
) -> None:  # noqa: ANN001
    data = [record_to_json(buy), record_to_json(sell)]
    mutate(data)
    src = tmp_path / "records.json"
    src.write_text(json.dumps(data))
    assert main(["order", "--records", str(src), "--out", str(tmp_path / "o")]) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_refuses_files_that_are_not_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i, text in enumerate(["{}", "[" * 100_000, "not json", '[{"parent": NaN}]']):
        src = tmp_path / f"r{i}.json"
        src.write_text(text)
        assert main(["period", "--records", str(src), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.count("refused: ") == 4
    assert main(["period", "--records", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o")]) == 2


def test_deeply_nested_json_is_refused_where_the_recursion_limit_is_raised(tmp_path: Path) -> None:
    """py-evm/py_ecc (imported with web3 and ape) raise the recursion limit to 100,000: there the C
    JSON decoder overflows the C stack on ``[[[[...`` and kills the process instead of raising."""
    src = tmp_path / "deep.json"
    src.write_text("[" * 200_000)
    code = (
        "import sys; sys.setrecursionlimit(200_000); from keeper.trading.bestex.__main__ import main; "
        f"sys.exit(main(['period', '--records', {str(src)!r}, '--out', {str(tmp_path / 'o')!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-500:]
    assert "nesting deeper than" in done.stderr
