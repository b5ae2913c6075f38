"""Independent verification on the fork: what the partner reports moves a client's partner
holding only once the chain (through our node) confirms it; each kind of wrong report is a
recorded break with an alert and moves nothing."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest

from keeper.assets import USDC
from keeper.audit import export, verify_trail
from keeper.partners import PartnerCustody, WebhookSignatureError, partner_location, verify_webhook
from strongroom_testkit.partner import Partner, holding, send_eth, send_token, settle

C = 2  # the module partner's confirmations (conftest)


def trail(ledger: Any) -> list[str]:
    """The operations of the audit trail, in order."""
    out = io.StringIO()
    export(ledger.engine, out)
    return [json.loads(line)["record"]["operation"] for line in out.getvalue().splitlines()]


def test_deposits_and_a_withdrawal_verified_move_the_segregated_holding(
        w3: Any, partner: Partner, custody: PartnerCustody, payer: str, home: str,
        hooks: tuple[str, list[tuple[dict[str, str], bytes]]]) -> None:
    address = custody.open_account("client-ok")
    other = custody.open_account("client-ok-2")
    assert address != other  # segregated: one address per client
    eth_tx = send_eth(w3, payer, address, 10**18)
    usdc_tx = send_token(w3, USDC.address, payer, address, 250 * 10**6)
    settle(w3, partner, C, lambda txs: {t.tx_hash for t in txs} >= {eth_tx, usdc_tx})

    result = custody.sync()

    assert (result.status, result.verified, result.breaks) == ("ok", 2, [])
    assert holding(custody, "client-ok", "ETH") == 10**18
    assert holding(custody, "client-ok", "USDC") == 250 * 10**6
    assert holding(custody, "client-ok-2", "USDC") == 0
    lg = custody.ledger
    assert lg.balance(lg.client_account("client-ok", "USDC")).credit_balance == 250 * 10**6
    omnibus = lg.omnibus_account("USDC", partner_location("warp", address))
    assert lg.balance(omnibus).debits_posted == 250 * 10**6

    row = custody.request_withdrawal("client-ok", "USDC", 40 * 10**6, home)
    assert row["status"] == "accepted", row["last_error"]
    partner.wait(lambda s: any(w["id"] == row["partner_tx_id"] and w["tx_hash"]
                               for w in s["withdrawals"]))
    settle(w3, partner, C, lambda txs: any(t.id == row["partner_tx_id"] for t in txs))
    result = custody.sync()

    assert (result.status, result.verified, result.breaks) == ("ok", 1, [])
    assert holding(custody, "client-ok", "USDC") == 210 * 10**6
    fee = 10**18 - holding(custody, "client-ok", "ETH")
    assert 0 < fee < 10**16  # the gas the sub-account paid, verified from the receipt
    assert w3.eth.get_balance(w3.to_checksum_address(address)) == 10**18 - fee
    assert custody.sync(force=True).breaks == []  # reconciled: nothing new, nothing twice

    eth = custody.request_withdrawal("client-ok", "ETH", 10**17, home)  # value and gas out
    partner.wait(lambda s: any(w["id"] == eth["partner_tx_id"] and w["tx_hash"]
                               for w in s["withdrawals"]))
    settle(w3, partner, C, lambda txs: any(t.id == eth["partner_tx_id"] for t in txs))
    assert (custody.sync().verified, custody.store.breaks()) == (1, [])
    left = holding(custody, "client-ok", "ETH")
    assert 0 < 10**18 - fee - 10**17 - left < 10**16  # the second fee
    assert w3.eth.get_balance(w3.to_checksum_address(address)) == left
    assert lg.balance(lg.client_account("client-ok", "USDC")).credit_balance == 210 * 10**6
    for h in custody.holdings():  # the sub-ledger's partner locations hold the same figures
        bal = lg.balance(lg.omnibus_account(h.asset, partner_location("warp", h.address)))
        assert bal.debits_posted - bal.credits_posted == h.units
    audited = trail(lg)
    assert audited.count("partners.verified") == 4 and audited.count("partners.sync") == 4
    assert audited.count("partners.withdrawal_requested") == 2
    assert audited.count("partners.withdrawal_accepted") == 2
    assert verify_trail(lg.engine).ok
    deadline = time.monotonic() + 15  # delivered by the partner's own thread
    while not {"deposit.confirmed", "withdrawal.confirmed"} <= {
            json.loads(body)["type"] for _, body in hooks[1]} and time.monotonic() < deadline:
        time.sleep(0.1)
    secret = partner.webhook_secret.encode()
    for headers, body in hooks[1]:  # each signed webhook verifies; a changed body does not
        verify_webhook(secret, headers, body)
        with pytest.raises(WebhookSignatureError):
            verify_webhook(secret, headers, body.replace(b"confirmed", b"c0nfirmed"))
    events = {json.loads(body)["type"] for _, body in hooks[1]}
    assert {"deposit.confirmed", "withdrawal.confirmed"} <= events


def test_each_kind_of_wrong_report_is_a_break_with_an_alert_and_moves_nothing(
        w3: Any, partner: Partner, custody: PartnerCustody, payer: str) -> None:
    kinds = ("amount", "address", "missing", "invented")
    addresses = {k: custody.open_account(f"client-{k}") for k in kinds}
    partner.set_faults(seed=7, wrong=[{"kind": k, "client_ref": f"client-{k}"} for k in kinds])
    hashes = {k: send_token(w3, USDC.address, payer, addresses[k], 100 * 10**6)
              for k in ("amount", "address", "missing")}
    last = int(w3.eth.get_transaction_receipt(hashes["missing"])["blockNumber"])
    settle(w3, partner, C, lambda txs: {t.tx_hash for t in txs} >= {  # the invented deposit
        hashes["amount"], hashes["address"]} and any(  # is dated at the report's as_of_block
        t.client_ref == "client-invented" and (t.block_number or 0) >= last for t in txs))

    result = custody.sync()
    partner.set_faults(seed=7)

    breaks = {(b["client_ref"], b["kind"]) for b in custody.store.breaks()}
    assert ("client-amount", "amount_mismatch") in breaks
    assert ("client-address", "address_mismatch") in breaks
    assert ("client-invented", "missing_on_chain") in breaks
    assert (None, "unreported_on_chain") in breaks  # the omitted deposit, seen on chain
    unreported = [b for b in custody.store.breaks() if b["kind"] == "unreported_on_chain"]
    assert [b["tx_hash"] for b in unreported] == [hashes["missing"]]
    for kind in kinds:  # no wrong report moved anything; each is in the balance check too
        assert holding(custody, f"client-{kind}", "USDC") == 0
        assert (f"client-{kind}", "balance_mismatch") in breaks
    alerts = {kind for kind, _, _ in custody.ledger.alerts()}
    assert {"partner_amount_mismatch", "partner_address_mismatch", "partner_missing_on_chain",
            "partner_unreported_on_chain", "partner_balance_mismatch"} <= alerts
    assert result.status == "ok"
    assert trail(custody.ledger).count("partners.break") >= 3  # one per broken report
    before = len(custody.store.breaks())
    custody.sync(force=True)
    assert len(custody.store.breaks()) >= before  # recorded once; nothing is un-broken


def test_an_outsiders_zero_value_transfer_to_a_sub_account_breaks_nothing(
        w3: Any, partner: Partner, custody: PartnerCustody, payer: str) -> None:
    address = custody.open_account("client-spammed")
    spam = send_token(w3, USDC.address, payer, address, 0)  # anyone may emit Transfer(.., 0)
    real = send_token(w3, USDC.address, payer, address, 7)
    settle(w3, partner, C, lambda txs: real in {t.tx_hash for t in txs})
    result = custody.sync()
    assert result.status == "ok"
    assert [b for b in custody.store.breaks() if b["client_ref"] == "client-spammed"
            or b["tx_hash"] in (spam, real)] == []
    assert holding(custody, "client-spammed", "USDC") == 7


def test_moves_are_found_over_ranges_longer_than_a_node_answers_at_once(
        w3: Any, payer: str, accounts: Any) -> None:
    from keeper.partners import chainscan
    from strongroom_testkit import mine

    start = int(w3.eth.block_number) + 1
    first = send_eth(w3, payer, accounts[6].address, 3)
    mine(w3, 2 * chainscan.SCAN_BLOCKS + 50)  # anvil refuses trace_filter over 300 blocks
    last = send_token(w3, USDC.address, payer, accounts[6].address, 4)
    moves = chainscan.scan(w3, [accounts[6].address], start, int(w3.eth.block_number))
    assert [(m.tx_hash, m.asset, m.amount) for m in moves] == [(first, "ETH", 3), (last, "USDC", 4)]
