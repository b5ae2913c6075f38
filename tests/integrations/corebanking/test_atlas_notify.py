"""ATLAS notifies the platform of wires earmarked for buys (spec 004 §8.2): the spec's JSON,
retried with backoff on 5xx and timeouts, a 400/403 recorded as final; the outbox survives a
crash; and a crash never loses or doubles a posting."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from keeper.integrations.corebanking import AtlasOpsClient, CoreBankingRejectedError, NotifyDeposit
from keeper.keys.secrets import Secret
from strongroom_testkit import free_port

SPEC_FIELDS = {"customer_id", "transaction_id", "amount", "currency", "reference", "timestamp",
               "source_account"}


def earmarked(ops, funded, prefix: str, cents: int) -> tuple[str, str]:
    cid = funded(prefix)
    p = ops.wire_in(str(uuid.uuid4()), cid, cents, f"USDC Buy Order {prefix}", earmark_buy=True)
    assert p.transaction_id is not None
    return cid, p.transaction_id


def test_an_earmarked_wire_is_notified_with_the_spec_json(atlas, ops, client, funded, receiver,
                                                          until) -> None:
    rec, _ = receiver
    cid, tx = earmarked(ops, funded, "CUST", 100_000_00)
    state = until(lambda: (n := ops.notification(tx))["status"] != "pending" and n)
    assert state["status"] == "accepted" and state["attempts"] == 1
    [call] = rec.for_tx(tx)
    assert set(call) == SPEC_FIELDS
    note = NotifyDeposit(**call)
    assert note.amount_cents() == 100_000_00 and note.amount == "10000000"
    assert (note.customer_id, note.currency) == (cid, "USD")
    assert note.source_account == client.customer(cid).account_id
    assert call["timestamp"].endswith("Z") and datetime.fromisoformat(call["timestamp"]).tzinfo
    assert state["answer"]["stablecoin_order_id"] == rec.orders[tx]
    platform_key = (atlas.db.parent / "keys" / "platform").read_text()
    assert rec.auth[tx] == f"Bearer {platform_key}"  # ATLAS authenticates to the platform
    plain = ops.wire_in(str(uuid.uuid4()), cid, 5_00, "not for a buy")
    assert plain.transaction_id is None


def test_5xx_are_retried_with_backoff_until_accepted(ops, funded, receiver, until) -> None:
    rec, _ = receiver
    _, tx = earmarked(ops, funded, "FLAKY", 250_00)
    state = until(lambda: (n := ops.notification(tx))["status"] != "pending" and n)
    assert (state["status"], state["attempts"], state["http_status"]) == ("accepted", 3, 200)
    calls = rec.for_tx(tx)
    assert len(calls) == 3 and all(c == calls[0] for c in calls)  # the same notification


def test_a_timeout_is_retried(ops, funded, receiver, until) -> None:
    rec, _ = receiver
    _, tx = earmarked(ops, funded, "SLOW", 1_00)
    state = until(lambda: (n := ops.notification(tx))["status"] != "pending" and n)
    assert (state["status"], state["attempts"]) == ("accepted", 2)
    assert len(rec.for_tx(tx)) == 2


def test_400_and_403_are_final_and_recorded(ops, client, funded, receiver, until) -> None:
    rec, _ = receiver
    for prefix, code in (("NEW", 400), ("HOLD", 403)):
        cid, tx = earmarked(ops, funded, prefix, 7_00)
        state = until(lambda tx=tx: (n := ops.notification(tx))["status"] != "pending" and n)
        assert (state["status"], state["http_status"], state["attempts"]) == ("rejected", code, 1)
        assert state["answer"]["error"]
        assert len(rec.for_tx(tx)) == 1
        assert client.customer(cid).balance_cents == 7_00  # the wire itself stands


def test_a_platform_that_keeps_failing_is_given_up_after_max_attempts(ops, funded, receiver,
                                                                      until) -> None:
    rec, _ = receiver
    _, tx = earmarked(ops, funded, "DOWN", 3_00)
    state = until(lambda: (n := ops.notification(tx))["status"] != "pending" and n)
    assert (state["status"], state["attempts"], state["http_status"]) == ("failed", 4, 500)
    assert len(rec.for_tx(tx)) == 4
    assert ops.retry_notification(tx)["status"] == "pending"  # operations send it again
    state = until(lambda: (n := ops.notification(tx))["status"] != "pending" and n)
    assert (state["status"], state["attempts"]) == ("failed", 8)
    assert len(rec.for_tx(tx)) == 8
    with pytest.raises(CoreBankingRejectedError) as exc:  # only a failed one can be re-sent
        ops.retry_notification(earmarked(ops, funded, "CUST", 1_00)[1])
    assert exc.value.status == 409


def test_the_outbox_survives_a_crash(tmp_path, spawn, receiver, until) -> None:
    """Notifications queued while the platform is unreachable are delivered by the restarted
    service, once."""
    rec, url = receiver
    down = spawn(tmp_path / "a", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    down.argv[down.argv.index("--notify-max-attempts") + 1] = "50"
    down.start()
    ops = AtlasOpsClient(down.url, Secret(down.ops_key), retries=0)
    try:
        ops.create_customer("CUST-OUTBOX", "Outbox Ltd")
        tx = ops.wire_in(str(uuid.uuid4()), "CUST-OUTBOX", 42_00, "buy", earmark_buy=True).transaction_id
        until(lambda: ops.notification(tx)["attempts"] >= 2)
        down.kill()
        assert rec.for_tx(tx) == []
        down.argv[down.argv.index("--platform-url") + 1] = url
        down.start()
        state = until(lambda: (n := ops.notification(tx))["status"] != "pending" and n)
        assert state["status"] == "accepted" and state["attempts"] >= 3
        assert len(rec.for_tx(tx)) == 1
        assert state["payload"]["amount"] == "4200"
    finally:
        ops.close()


def test_a_crash_loses_no_posting_and_doubles_none(atlas, ops, client, funded, postings) -> None:
    cid = funded("CRASH", 10_000_00)
    k = str(uuid.uuid4())
    p = client.debit_for_buy(k, cid, 4_000_00, fee_cents=0, reference="b", asset="USDC",
                             asset_units=4_000 * 10**6, ledger_transfer_id="lt-crash")
    before = postings()
    atlas.kill()
    atlas.start()
    again = client.debit_for_buy(k, cid, 4_000_00, fee_cents=0, reference="b", asset="USDC",
                                 asset_units=4_000 * 10**6, ledger_transfer_id="lt-crash")
    assert again == p
    assert postings() == before
    assert client.customer(cid).balance_cents == 6_000_00


def test_transaction_ids_never_repeat_across_databases(tmp_path, spawn, receiver) -> None:
    """The platform deduplicates on ``transaction_id``: an ATLAS on a fresh database (a rebuilt
    demo, a restored backup) must not reissue an id the platform has already seen, or a real
    deposit would be taken for a replay and never bought."""
    _, url = receiver
    ids = []
    for name in ("one", "two"):
        a = spawn(tmp_path / name, url)
        a.start()
        ops = AtlasOpsClient(a.url, Secret(a.ops_key), retries=0)
        try:
            ops.create_customer("CUST-TXID", "Tx Ltd")
            ids.append(ops.wire_in(str(uuid.uuid4()), "CUST-TXID", 1_00, "buy",
                                   earmark_buy=True).transaction_id)
        finally:
            ops.close()
            a.stop()
    assert ids[0] != ids[1]
