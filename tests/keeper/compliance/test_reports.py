"""SAR/CTR files (JSON, HTML, PDF rendered back to an image) and the SAR deadline check."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pypdfium2
import pytest
from sqlalchemy import Engine

from keeper.compliance import reports
from keeper.compliance.risk import LabelledAddressRisk
from keeper.compliance.rules_engine import Movement, RuleSet
from keeper.compliance.service import ComplianceService

T0 = datetime(2026, 11, 23, 12, tzinfo=UTC)
MIXER = "0x" + "66" * 20



def _sar(db: Engine) -> int:
    s = ComplianceService(db, RuleSet.load(), risk=LabelledAddressRisk({"mixer": [MIXER]}), clock=lambda: T0)
    v = s.screen(Movement("w1", "c1", "withdrawal", "USDC", 1_234_567_891, 123_457, T0, address=MIXER))
    return v.report_ids[0]


def test_sar_files_json_html_pdf(db: Engine, tmp_path: Path) -> None:
    rid = _sar(db)
    js, html, pdf = reports.write_files(db, rid, tmp_path)
    body = json.loads(js.read_text())
    assert body["kind"] == "SAR" and body["units"] == "1234567891" and body["usd_cents"] == 123_457
    assert body["due_at"] == (T0 + timedelta(days=30)).isoformat() and body["rules_version"] == 1
    assert "$1,234.57" in html.read_text() and "R005@v1" in html.read_text()
    doc = pypdfium2.PdfDocument(pdf.read_bytes())
    assert len(doc) == 1
    text = doc[0].get_textpage().get_text_range()
    assert "Suspicious Activity Report" in text and "$1,234.57" in text and "1234567891" in text
    image = doc[0].render(scale=1).to_pil().convert("L")
    dark = sum(1 for p in image.getdata() if p < 128)
    assert image.size[0] > 500 and dark > 1000  # ink on the page, not a blank render


def test_hostile_text_is_escaped(db: Engine) -> None:
    report = reports.load(db, _sar(db)) | {"reasons": ["<script>alert(1)</script> & <b>"]}
    html = reports.render_html(report)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert reports.render_pdf(report).startswith(b"%PDF")


def test_sar_deadline_alerts_before_and_after_but_not_early_or_filed(db: Engine) -> None:
    rid = _sar(db)
    seen: list[str] = []
    due = T0 + timedelta(days=30)
    early = due - timedelta(days=5, seconds=1)
    assert reports.check_sar_deadlines(db, early, lambda s, b: seen.append(s)) == []
    [warn] = reports.check_sar_deadlines(db, due - timedelta(days=5), lambda s, b: seen.append(s))
    assert warn.report_id == rid and not warn.overdue
    [late] = reports.check_sar_deadlines(db, due, lambda s, b: seen.append(s))
    assert late.overdue and "OVERDUE" in seen[-1] and len(seen) == 2
    reports.mark_filed(db, rid, "officer-1", "BSA-123")
    assert reports.check_sar_deadlines(db, due + timedelta(days=1), lambda s, b: seen.append(s)) == []
    with pytest.raises(KeyError):
        reports.mark_filed(db, rid, "officer-1", "again")
