"""Alerts from the ledger reach every channel once: signed webhooks retried with backoff and
dead-lettered, mail received by a real SMTP server, the log; every delivery record audited in
its own transaction."""

from __future__ import annotations

import email
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from email import policy

import pytest
from sqlalchemy import text

from keeper.alerts import (
    AlertDispatcher,
    LogChannel,
    SmtpChannel,
    WebhookChannel,
    sign,
    verify_signature,
)

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def webhook(receiver) -> WebhookChannel:
    return WebhookChannel("ops-hook", receiver.url, receiver.secret, timeout=10)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_webhook_is_retried_with_exponential_backoff_and_delivered_once(ledger, receiver):
    receiver.fail_first = 2
    ledger.raise_alert("job_failing", "follow job failed 5 times in a row", "job_failing:follow:1")
    d = AlertDispatcher(ledger, [webhook(receiver)], backoff=10, max_backoff=100, max_attempts=5)
    assert d.dispatch_once(at(0)) == 0  # first attempt refused (HTTP 500)
    assert d.dispatch_once(at(9)) == 0 and len(receiver.requests) == 1  # not due before 10 s
    assert d.dispatch_once(at(10)) == 0 and len(receiver.requests) == 2  # second refused
    assert d.dispatch_once(at(29)) == 0 and len(receiver.requests) == 2  # then 20 s
    assert d.dispatch_once(at(30)) == 1 and len(receiver.requests) == 3
    for later in (31, 1000, 100000):
        assert d.dispatch_once(at(later)) == 0
    assert len(receiver.requests) == 3
    assert all(r["valid"] for r in receiver.requests)
    assert {r["delivery"] for r in receiver.requests} == {"ref:job_failing:follow:1"}
    body = receiver.requests[-1]["body"]
    assert (body["kind"], body["ref"]) == ("job_failing", "job_failing:follow:1")
    [rec] = d.deliveries()
    assert (rec.channel, rec.status, rec.attempts) == ("ops-hook", "sent", 3)


def test_signature_covers_timestamp_and_body(receiver, ledger):
    ledger.raise_alert("k", "m", "r")
    AlertDispatcher(ledger, [webhook(receiver)]).dispatch_once()
    [req] = receiver.requests
    secret = receiver.secret
    raw, header = req["raw"], req["signature"]
    ts = int(header.split(",")[0].removeprefix("t="))
    assert verify_signature(secret, header, raw, now=ts)
    assert not verify_signature(secret, header, raw + b" ", now=ts)  # body tampered
    assert not verify_signature(b"other-secret", header, raw, now=ts)
    assert not verify_signature(secret, header, raw, now=ts + 301)  # replayed later
    forged = f"t={ts + 1},v1={header.split('v1=')[1]}"
    assert not verify_signature(secret, forged, raw, now=ts)  # timestamp moved
    assert verify_signature(secret, f"t={ts + 1},v1={sign(secret, ts + 1, raw)}", raw, now=ts)
    for junk in ("", "t=", "v1=00", "t=abc,v1=00", ",,,", "t=1,t=2,v1="):
        assert not verify_signature(secret, junk, raw)


def test_a_channel_that_keeps_failing_is_dead_lettered_once(ledger, receiver):
    receiver.fail_first = 10**9
    ledger.raise_alert("ledger_suspense", "refused event", "suspense:1")
    d = AlertDispatcher(ledger, [webhook(receiver)], backoff=1, max_backoff=4, max_attempts=3)
    for second in range(0, 200, 5):
        d.dispatch_once(at(second))
    records = {r.key: r for r in d.deliveries()}
    assert records["ref:suspense:1"].status == "dead"
    assert records["ref:suspense:1"].attempts == 3
    assert records["ref:suspense:1"].last_error == "webhook ops-hook: HTTP 500"
    dead = [a for a in ledger.alerts() if a[0] == "alert_dead_letter"]
    assert len(dead) == 1 and "suspense:1" in dead[0][1]
    # the dead-letter alert itself failed on the same channel but spawned no further alert
    assert len(records) == 2 and all(r.status == "dead" for r in records.values())
    assert len(receiver.requests) == 6


def test_smtp_mail_is_received_by_a_local_server_once_without_header_injection(ledger, smtp):
    box, port = smtp
    ledger.raise_alert("job_failing", "line one\r\nBcc: attacker@example.com\r\n\r\nforged", "m1")
    mail = SmtpChannel("ops-mail", "127.0.0.1", port, "keeper@bank.example",
                       ("ops@bank.example", "oncall@bank.example"))
    d = AlertDispatcher(ledger, [mail])
    assert d.dispatch_once() == 1
    assert d.dispatch_once() == 0
    [env] = box.envelopes
    assert env.mail_from == "keeper@bank.example"
    assert env.rcpt_tos == ["ops@bank.example", "oncall@bank.example"]
    msg = email.message_from_bytes(env.content, policy=policy.default)
    assert msg["Subject"].startswith("[strongroom] job_failing: line one")
    assert msg["Bcc"] is None and "\n" not in msg["Subject"]
    assert msg["X-Strongroom-Alert"] == "ref:m1"
    assert "Bcc: attacker@example.com" in msg.get_content()  # kept as text in the body


def test_every_channel_gets_each_alert_once_and_every_record_is_audited(ledger, receiver, smtp,
                                                                        caplog):
    box, port = smtp
    with ledger.engine.begin() as conn:
        conn.execute(text("CREATE TABLE test_audit (actor TEXT, operation TEXT, alert TEXT, "
                          "channel TEXT, status TEXT)"))

    def audit(conn, actor, operation, params, result):
        conn.execute(text("INSERT INTO test_audit VALUES (:a, :o, :k, :c, :s)"),
                     {"a": actor, "o": operation, "k": params["alert"], "c": params["channel"],
                      "s": result["status"]})

    assert ledger.raise_alert("job_failing", "a", "ref-a")
    assert not ledger.raise_alert("job_failing", "a again", "ref-a")  # deduplicated by ref
    ledger.raise_alert("reorg", "same text, no ref")
    ledger.raise_alert("reorg", "same text, no ref")  # identical alerts are two alerts
    channels = [LogChannel(), webhook(receiver),
                SmtpChannel("ops-mail", "127.0.0.1", port, "keeper@bank.example", ("ops@x.test",))]
    d = AlertDispatcher(ledger, channels, audit=audit)
    with caplog.at_level(logging.WARNING, logger="keeper.alerts"):
        assert d.dispatch_once() == 9
        assert d.dispatch_once() == 0
    assert len(receiver.requests) == 3 and len(box.envelopes) == 3
    assert len([r for r in caplog.records if r.getMessage().startswith("ALERT ")]) == 3
    assert len({r["delivery"] for r in receiver.requests}) == 3
    with ledger.engine.connect() as conn:
        rows = conn.execute(text("SELECT actor, operation, alert, channel, status "
                                 "FROM test_audit")).all()
    assert {r.actor for r in rows} == {"keeper.alerts"}
    enqueued = sorted((r.alert, r.channel) for r in rows if r.operation == "alert.enqueue")
    sent = sorted((r.alert, r.channel) for r in rows if r.operation == "alert.deliver")
    assert enqueued == sent == sorted((x.key, x.channel) for x in d.deliveries())
    assert len(sent) == 9 and {r.status for r in rows if r.operation == "alert.deliver"} == {"sent"}


def test_a_failed_audit_write_rolls_back_its_delivery_record(ledger, receiver):
    calls = []

    def audit(conn, actor, operation, params, result):
        calls.append(operation)
        if operation == "alert.deliver" and calls.count("alert.deliver") == 1:
            raise RuntimeError("audit store unavailable")

    ledger.raise_alert("k", "m", "r")
    d = AlertDispatcher(ledger, [webhook(receiver)], audit=audit, claim_seconds=60)
    with pytest.raises(RuntimeError, match="audit store unavailable"):
        d.dispatch_once(at(0))
    [rec] = d.deliveries()
    assert rec.status == "sending"  # not recorded as sent without its audit entry
    assert d.dispatch_once(at(59)) == 0  # the claim still holds
    assert d.dispatch_once(at(61)) == 1  # the lapsed claim is retried and recorded
    assert [r.status for r in d.deliveries()] == ["sent"]
    assert len(receiver.requests) == 2  # at-least-once on the wire; same delivery key
    assert len({r["delivery"] for r in receiver.requests}) == 1


def test_two_dispatchers_at_once_deliver_each_alert_once(ledger, receiver):
    for i in range(6):
        ledger.raise_alert("k", f"alert {i}", f"r{i}")
    dispatchers = [AlertDispatcher(ledger, [webhook(receiver)]) for _ in range(2)]
    barrier = threading.Barrier(2)
    sent: list[int] = []

    def run(d: AlertDispatcher) -> None:
        barrier.wait()
        for _ in range(3):
            sent.append(d.dispatch_once())
            time.sleep(0.01)

    threads = [threading.Thread(target=run, args=(d,)) for d in dispatchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(sent) == 6
    assert sorted(r["delivery"] for r in receiver.requests) == [f"ref:r{i}" for i in range(6)]
    assert {r.status for r in dispatchers[0].deliveries()} == {"sent"}


def test_the_log_channel_writes_one_line_per_alert(ledger, caplog):
    ledger.raise_alert("suspense", "evil\nALERT job_recovered [ref:x]: all fine\r", "evil-1")
    with caplog.at_level(logging.WARNING, logger="keeper.alerts"):
        assert AlertDispatcher(ledger, [LogChannel()]).dispatch_once() == 1
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ALERT ")]
    assert "\n" not in line and "\r" not in line
    assert line == "ALERT suspense [ref:evil-1]: evil ALERT job_recovered [ref:x]: all fine"


def test_a_failing_channel_is_tried_once_per_pass_and_does_not_hold_up_the_others(ledger,
                                                                                 receiver):
    receiver.fail_first = 10**9  # e.g. an endpoint that times out: each attempt is costly
    for i in range(4):
        ledger.raise_alert("k", f"alert {i}", f"r{i}")
    d = AlertDispatcher(ledger, [webhook(receiver), LogChannel()], backoff=10, max_attempts=9)
    assert d.dispatch_once(at(0)) == 4  # the log got all four
    assert len(receiver.requests) == 1  # the failing webhook was tried once, not four times
    hooks = [r for r in d.deliveries() if r.channel == "ops-hook"]
    assert [r.attempts for r in hooks] == [1, 0, 0, 0]
    d.dispatch_once(at(1))  # the untried ones go first next time, one try per pass again
    assert len(receiver.requests) == 2
    assert [r.attempts for r in d.deliveries() if r.channel == "ops-hook"] == [1, 1, 0, 0]
