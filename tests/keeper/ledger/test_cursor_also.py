"""``SourceBook.move_cursor(..., also=...)``: a source's extra writes (the postings' audit
records) commit with its postings and cursor move, or not at all."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import Connection

from keeper.audit import AuditTrail, record_in
from keeper.audit import upgrade as audit_upgrade
from keeper.ledger import CursorState, Ledger, TransferSpec


@pytest.fixture
def book(ledger_url: str):
    audit_upgrade(ledger_url)
    lg = Ledger(ledger_url, group_commit=False)
    yield lg
    lg.close()


def test_also_commits_with_the_postings_and_the_cursor(book: Ledger) -> None:
    spec = TransferSpec("dep:1", book.omnibus_account("ETH", "vault:x"),
                        book.client_account("c", "ETH"), 7)

    def audit(conn: Connection) -> None:
        record_in(conn, "keeper.follower", "ledger.post", {"transfers": ["dep:1"]}, {"ok": True})

    book.move_cursor([spec], expected=None, to=CursorState("src", 1, "0x" + "01" * 32, 0),
                     also=audit)
    assert book.cursor("src").position == 1
    assert book.balance(book.client_account("c", "ETH")).credit_balance == 7
    with AuditTrail(book.engine) as trail:
        report = trail.verify()
        out = io.StringIO()
        trail.export(out)
    assert report.ok and report.records == 1
    assert '"ledger.post"' in out.getvalue()


def test_a_failing_also_leaves_nothing_behind(book: Ledger) -> None:
    spec = TransferSpec("dep:2", book.omnibus_account("ETH", "vault:x"),
                        book.client_account("c", "ETH"), 9)

    def boom(conn: Connection) -> None:
        raise RuntimeError("audit unavailable")

    with pytest.raises(RuntimeError):
        book.move_cursor([spec], expected=None, to=CursorState("src", 1, "0x" + "01" * 32, 0),
                         also=boom)
    assert book.cursor("src") is None
    assert book.balance(book.client_account("c", "ETH")).credit_balance == 0
