"""An outsider who can make the keeper raise alerts (one per spam log, say) cannot flood the
channels: beyond the hourly allowance per kind, one digest per kind and hour is sent; and the
dispatcher reads only alerts it has not collected yet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from keeper.alerts import AlertDispatcher, WebhookChannel
from keeper.alerts.models import AlertEvent

T0 = datetime(2026, 11, 23, 12, 5, tzinfo=UTC)


def hook(receiver) -> WebhookChannel:
    return WebhookChannel("ops-hook", receiver.url, receiver.secret, timeout=10)


def test_a_flood_of_one_kind_becomes_one_digest_and_other_kinds_still_arrive(ledger, receiver):
    for i in range(50):
        ledger.raise_alert("unattributed_transfer_in", f"dust {i} from 0xevil", f"dust:{i}")
    ledger.raise_alert("balance_mismatch", "vault USDC differs from its omnibus", "bm:1")
    d = AlertDispatcher(ledger, [hook(receiver)], per_kind_per_hour=20)
    d.dispatch_once(T0)
    sent = [r["body"] for r in receiver.requests]
    assert [b["kind"] for b in sent].count("unattributed_transfer_in") == 20
    assert "balance_mismatch" in [b["kind"] for b in sent]  # another kind is not held back
    assert len(sent) == 21
    d.dispatch_once(T0 + timedelta(minutes=30))  # the digest waits for the end of the hour
    assert len(receiver.requests) == 21
    d.dispatch_once(T0 + timedelta(minutes=56))
    assert len(receiver.requests) == 22
    digest = receiver.requests[-1]["body"]
    assert digest["kind"] == "alert_digest" and receiver.requests[-1]["valid"]
    assert "30 more 'unattributed_transfer_in' alerts" in digest["message"]
    assert "first: dust 20 from 0xevil" in digest["message"]
    assert "last: dust 49 from 0xevil" in digest["message"]
    d.dispatch_once(T0 + timedelta(hours=5))
    assert len(receiver.requests) == 22  # nothing sent twice


def test_the_allowance_starts_again_the_next_hour(ledger, receiver):
    d = AlertDispatcher(ledger, [hook(receiver)], per_kind_per_hour=2)
    for hour in range(2):
        for i in range(3):
            ledger.raise_alert("dust", f"h{hour} n{i}", f"d:{hour}:{i}")
        d.dispatch_once(T0 + timedelta(hours=hour))
    kinds = [r["body"]["kind"] for r in receiver.requests]
    # hour 0: two alerts, then at 13:00 its digest; hour 1: two alerts again
    assert kinds == ["dust", "dust", "alert_digest", "dust", "dust"]


def test_collect_reads_only_new_alerts_and_never_redelivers_old_style_events(ledger, receiver,
                                                                             db_url):
    ledger.raise_alert("old", "collected before the upgrade", None)
    ledger.raise_alert("old", "collected before the upgrade too", "old:2")
    d = AlertDispatcher(ledger, [hook(receiver)])
    # an alerts table written by the previous dispatcher: old-style keys, no ledger ids
    with ledger.engine.begin() as conn:
        for key, ref in ((f"msg:{_digest('old', 'collected before the upgrade')}:1", None),
                         ("ref:old:2", "old:2")):
            conn.execute(insert(AlertEvent.__table__).values(
                key=key, kind="old", message="m", ref=ref, created_at=T0))
    ledger.raise_alert("new", "after the upgrade", None)
    assert d.collect(T0) == 1
    assert d.collect(T0) == 0
    d.deliver_due(T0)
    assert [r["body"]["kind"] for r in receiver.requests] == ["new"]
    with ledger.engine.connect() as conn:
        ids = conn.scalars(select(AlertEvent.__table__.c.ledger_alert_id)).all()
    assert sorted(i for i in ids if i is not None) == [3]


def _digest(kind: str, message: str) -> str:
    import hashlib

    return hashlib.sha256(f"{kind}\0{message}".encode()).hexdigest()[:40]
