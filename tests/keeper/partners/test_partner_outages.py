"""A partner that is down, rate limits us or answers garbage: the keeper alerts once per
outage, serves the last verified holdings marked stale, honours Retry-After, resumes a
withdrawal after recovery with the same key (executed once), and a hostile reply changes
nothing."""

from __future__ import annotations

from typing import Any

import pytest

from keeper.assets import USDC
from keeper.ledger import Ledger
from keeper.partners import PartnerCustody, PartnerProtocolError
from strongroom_testkit.partner import Partner, holding, send_eth, send_token, settle

C = 2  # the module partner's confirmations (conftest)
HOSTILE = ("not_json", "negative_amount", "huge_amount", "bad_hash", "bad_address", "wrong_type",
           "extra_field", "huge_list", "stuck_pages", "deep_json")


def alerts(ledger: Ledger, kind: str) -> list[str]:
    """Messages of the recorded alerts of ``kind``."""
    return [message for k, message, _ in ledger.alerts() if k == kind]


def test_an_outage_serves_stale_holdings_and_recovers_without_a_duplicate_withdrawal(
        w3: Any, partner: Partner, custody: PartnerCustody, payer: str, home: str) -> None:
    address = custody.open_account("client-outage")
    send_eth(w3, payer, address, 10**17)
    send_token(w3, USDC.address, payer, address, 50 * 10**6)
    settle(w3, partner, C, lambda txs: sum(t.client_ref == "client-outage" for t in txs) == 2)
    assert custody.sync().status == "ok"
    assert not [h for h in custody.holdings() if h.client_ref == "client-outage" and h.stale]

    partner.set_faults(maintenance=True)
    assert [custody.sync().status, custody.sync().status] == ["unavailable", "unavailable"]
    assert len(alerts(custody.ledger, "partner_unreachable")) == 1  # once per episode
    served = {h.asset: h for h in custody.holdings() if h.client_ref == "client-outage"}
    assert served["USDC"].units == 50 * 10**6 and served["ETH"].units == 10**17
    assert served["USDC"].stale and served["USDC"].age_s is not None and served["USDC"].as_of

    row = custody.request_withdrawal("client-outage", "USDC", 20 * 10**6, home)
    assert row["status"] == "requested"  # stored with its key before the call; not sent
    partner.set_faults(lost_reply_rate=1.0)  # back, but the replies to POSTs are lost
    assert custody.sync().status == "ok"
    assert custody.store.withdrawals("requested")  # not acknowledged yet: retried later
    partner.set_faults()
    assert custody.sync().status == "ok"
    (done,) = [w for w in custody.store.withdrawals() if w["client_ref"] == "client-outage"]
    assert done["status"] == "accepted" and done["idem_key"] == row["idem_key"]
    assert len(alerts(custody.ledger, "partner_recovered")) == 1

    partner.wait(lambda s: any(w["id"] == done["partner_tx_id"] and w["tx_hash"]
                               for w in s["withdrawals"]))
    settle(w3, partner, C, lambda txs: any(t.id == done["partner_tx_id"] for t in txs))
    theirs = [w for w in partner.admin("GET", "/admin/stats")["withdrawals"]
              if w["client_ref"] == "client-outage"]
    assert len(theirs) == 1  # every retry reused the key: one withdrawal at the partner
    result = custody.sync()
    assert (result.verified, result.breaks) == (1, [])
    assert holding(custody, "client-outage", "USDC") == 30 * 10**6
    usdc_out = [m for m in _moves(w3, address) if m.asset == "USDC" and m.sender == address]
    assert len(usdc_out) == 1  # one transaction on chain
    assert not [h for h in custody.holdings() if h.client_ref == "client-outage" and h.stale]


def _moves(w3: Any, address: str) -> list[Any]:
    from keeper.partners import chainscan

    return chainscan.scan(w3, [address], 0, int(w3.eth.block_number))


def test_a_rate_limit_is_honoured_with_retry_after(
        w3: Any, partner: Partner, ledger: Ledger, home: str) -> None:
    partner.set_faults(rate_limit=2, rate_window_s=1)
    try:
        patient = partner.client(retries=3)
        result = PartnerCustody(ledger, patient, w3, confirmations=C, whitelist=[home]).sync(force=True)
        stats = partner.admin("GET", "/admin/stats")
        assert result.status == "ok"
        assert patient.waited and all(w == 1.0 for w in patient.waited)  # what Retry-After said
        hasty = partner.client(retries=0)
        custody = PartnerCustody(ledger, hasty, w3, confirmations=C, whitelist=[home])
        statuses = [custody.sync(force=True).status for _ in range(3)]
        assert "rate_limited" in statuses
        assert custody.store.state()["not_before"] is not None
        before = partner.admin("GET", "/admin/stats")["requests"]
        if statuses[-1] == "rate_limited":
            assert custody.sync().status == "skipped"  # waits out Retry-After: no call made
            assert partner.admin("GET", "/admin/stats")["requests"] == before
    finally:
        partner.set_faults()
    assert stats["rate_limited"] >= len(patient.waited)


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_report_changes_nothing(partner: Partner, custody: PartnerCustody,
                                          kind: str) -> None:
    custody.sync(force=True)
    before = (custody.store.reports(), custody.store.breaks(), custody.holdings(),
              custody.ledger.verify_invariants())
    partner.set_faults(hostile=kind)
    try:
        result = custody.sync(force=True)
    finally:
        partner.set_faults()
    assert result.status == "protocol_error"
    after = (custody.store.reports(), custody.store.breaks(), custody.holdings(),
             custody.ledger.verify_invariants())
    assert [r for r in after[0]] == before[0] and after[1] == before[1] and after[3] == before[3]
    assert [(h.client_ref, h.asset, h.units) for h in after[2]] == [
        (h.client_ref, h.asset, h.units) for h in before[2]]
    assert alerts(custody.ledger, "partner_protocol_error")


def test_the_cli_syncs_and_prints_stale_holdings_and_breaks(
        partner: Partner, ledger: Ledger, rpc_url: str, tmp_path: Any,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from keeper.keys.secrets import write_secret_file
    from keeper.partners.__main__ import main

    key = write_secret_file(tmp_path / "partner-api.key", partner.api_key)
    monkeypatch.setenv("STRONGROOM_DB_URL", ledger.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("STRONGROOM_RPC_URL", rpc_url)
    monkeypatch.setenv("STRONGROOM_CONFIRMATIONS", str(C))
    args = ["--url", partner.url, "--api-key-file", str(key), "--retries", "0"]

    def run(*command: str) -> tuple[int, list[dict[str, Any]]]:
        code = main([*command, *args])
        return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    partner.set_faults(maintenance=True)
    try:
        code, (summary,) = run("verify")
        assert (code, summary["status"]) == (0, "unavailable")
        code, rows = run("balances")
    finally:
        partner.set_faults()
    mine = {r["asset"]: r for r in rows if r["client"] == "client-outage"}
    assert mine["USDC"]["units"] == str(30 * 10**6) and mine["USDC"]["stale"] is True
    assert mine["USDC"]["age_s"] is not None
    code, (summary,) = run("verify")
    assert summary["status"] == "ok" and summary["reconciliation_seconds"] >= 0
    code, rows = run("balances")
    assert not any(r["stale"] for r in rows)
    code, rows = run("breaks")
    assert code == 0 and all(r["kind"] for r in rows)


def test_a_sub_account_at_one_of_our_own_addresses_is_refused(
        partner: Partner, custody: PartnerCustody, home: str) -> None:
    partner.set_faults(hostile="foreign_address")  # the partner names our whitelisted wallet
    try:
        with pytest.raises(PartnerProtocolError):
            custody.open_account("client-foreign")
    finally:
        partner.set_faults()
    assert "client-foreign" not in custody.store.accounts()
    assert home not in custody.store.accounts().values()


def test_a_pull_requested_while_a_sync_runs_is_not_forgotten(custody: PartnerCustody) -> None:
    from datetime import timedelta

    from keeper.partners.store import now

    later = now() + timedelta(seconds=30)  # a webhook's request stamped after the sync began
    custody.store.set_state(requested_at=later)
    assert custody.sync(force=True).status == "ok"
    assert custody.store.state()["requested_at"] == later  # the next job run still pulls
    custody.store.set_state(requested_at=now() - timedelta(seconds=30))
    assert custody.sync(force=True).status == "ok"
    assert custody.store.state()["requested_at"] is None  # served by this sync


def test_an_endless_reply_is_cut_off_not_read_into_memory(partner: Partner,
                                                        custody: PartnerCustody) -> None:
    import tracemalloc

    partner.set_faults(hostile="huge_body")  # 64 MiB, streamed without a Content-Length
    tracemalloc.start()
    try:
        result = custody.sync(force=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        partner.set_faults()
    assert result.status == "protocol_error"
    assert peak < 24 * 1024 * 1024  # the reader stops at its cap (8 MiB)


def test_a_reply_trickling_forever_is_an_outage_not_a_hung_sync(
        w3: Any, partner: Partner, ledger: Ledger, home: str) -> None:
    partner.set_faults(hostile="trickle")  # a byte every 0.2 s: no single read times out
    client = partner.client(retries=0, timeout_s=0.5)
    try:
        result = PartnerCustody(ledger, client, w3, confirmations=C, whitelist=[home]).sync(force=True)
    finally:
        partner.set_faults()
        client.close()
    assert result.status == "unavailable"  # cut at the reply's deadline, not read to its end


def test_a_partner_killed_after_accepting_a_withdrawal_sends_it_exactly_once(
        w3: Any, partner: Partner, custody: PartnerCustody, payer: str, home: str) -> None:
    address = custody.open_account("client-crash")
    send_eth(w3, payer, address, 10**17)
    send_token(w3, USDC.address, payer, address, 9 * 10**6)
    settle(w3, partner, C, lambda txs: sum(t.client_ref == "client-crash" for t in txs) == 2)
    assert custody.sync().verified == 2
    row = custody.request_withdrawal("client-crash", "USDC", 4 * 10**6, home)
    partner.kill_and_restart()  # wherever the worker was: before signing, after, mid-broadcast
    partner.wait(lambda s: any(w["id"] == row["partner_tx_id"] and w["tx_hash"]
                               for w in s["withdrawals"]))
    settle(w3, partner, C, lambda txs: any(t.id == row["partner_tx_id"] for t in txs))
    result = custody.sync()
    assert (result.verified, result.breaks) == (1, [])
    out = [m for m in _moves(w3, address) if m.asset == "USDC" and m.sender == address]
    assert len(out) == 1 and out[0].amount == 4 * 10**6
    assert holding(custody, "client-crash", "USDC") == 5 * 10**6
