"""Redemptions and webhooks through the local issuer service on the fork: the bank sends USDC
to the redemption address, the issuer burns it and owes (then pays, delays or fails) the fiat."""

from __future__ import annotations

import json

import pytest

from keeper.integrations.issuer import (
    BurnStatus,
    IssuerConflict,
    IssuerRejected,
    MintStatus,
    WebhookSignatureError,
    new_idempotency_key,
    verify_webhook,
)

pytestmark = pytest.mark.fork
SECRET = "whsec-test-0123456789abcdef"


@pytest.fixture
def bank(accounts, chain):
    """A fresh bank wallet with ETH for gas."""
    account = accounts.generate_test_account()
    chain.provider.set_balance(account.address, 10**20)
    return account


def fund_bank(issuer, bank, units, settle):
    """Mint ``units`` to the bank through the issuer itself."""
    mint = issuer.client.create_mint(units=units, destination_address=bank.address, reference="FUND",
                                     idempotency_key=new_idempotency_key())
    settle(lambda: issuer.client.get_mint(mint.mint_id), lambda m: m.status == MintStatus.COMPLETE)


def send_to_redemption(usdc, issuer, bank, units, w3, confirm=True):
    """The bank's transfer to the redemption address (with two confirmations); its tx hash."""
    tx = usdc.transfer(issuer.client.redemption_address(), units, sender=bank)
    if confirm:
        w3.provider.make_request("anvil_mine", ["0x1"])
    return tx.txn_hash if isinstance(tx.txn_hash, str) else "0x" + bytes(tx.txn_hash).hex()


def redeem(issuer, bank, units, tx_hash, key=None):
    return issuer.client.create_burn(units=units, source_address=bank.address, transfer_tx_id=tx_hash,
                                     reference="BANK-BURN-1", idempotency_key=key or new_idempotency_key())


def test_a_burn_reduces_total_supply_and_pays_out_once(issuer, usdc, bank, w3, settle):
    fund_bank(issuer, bank, 50_000_000, settle)
    tx_hash = send_to_redemption(usdc, issuer, bank, 30_000_000, w3)
    supply_before = usdc.totalSupply()
    key = new_idempotency_key()
    burn = redeem(issuer, bank, 30_000_000, tx_hash, key)
    assert burn.status is BurnStatus.PENDING
    assert redeem(issuer, bank, 30_000_000, tx_hash, key).burn_id == burn.burn_id  # a retry
    done = settle(lambda: issuer.client.get_burn(burn.burn_id), lambda b: b.status != BurnStatus.PENDING
                  and b.status != BurnStatus.DELAYED)
    assert done.status is BurnStatus.COMPLETE and done.payout_status == "sent", done
    assert supply_before - usdc.totalSupply() == 30_000_000
    assert usdc.balanceOf(issuer.address) == 0 and usdc.balanceOf(bank.address) == 20_000_000
    with pytest.raises(IssuerConflict):  # the same deposit cannot be redeemed twice
        redeem(issuer, bank, 30_000_000, tx_hash)
    reserves = issuer.client.reserves()
    assert reserves.total_supply_units == usdc.totalSupply() == reserves.backing_units


def test_a_burn_without_a_matching_deposit_is_refused_and_burns_nothing(issuer, usdc, bank, w3, settle):
    fund_bank(issuer, bank, 10_000_000, settle)
    tx_hash = send_to_redemption(usdc, issuer, bank, 10_000_000, w3, confirm=False)
    supply = usdc.totalSupply()
    with pytest.raises(IssuerRejected, match="confirmations"):  # one block: not yet final
        redeem(issuer, bank, 10_000_000, tx_hash)
    w3.provider.make_request("anvil_mine", ["0x1"])
    for units, source, tx in ((10_000_001, bank.address, tx_hash),  # more than was sent
                              (10_000_000, issuer.address, tx_hash),  # someone else's deposit
                              (10_000_000, bank.address, "0x" + "ab" * 32)):  # no such transaction
        with pytest.raises(IssuerRejected) as err:
            issuer.client.create_burn(units=units, source_address=source, transfer_tx_id=tx,
                                      reference="X", idempotency_key=new_idempotency_key())
        assert err.value.status == 422
    assert usdc.totalSupply() == supply and usdc.balanceOf(issuer.address) == 10_000_000
    burn = redeem(issuer, bank, 10_000_000, tx_hash)  # the refusals left the deposit redeemable
    settle(lambda: issuer.client.get_burn(burn.burn_id), lambda b: b.status == BurnStatus.COMPLETE)
    assert supply - usdc.totalSupply() == 10_000_000


def test_a_held_settlement_burns_but_owes_the_fiat_until_released(issuer_factory, usdc, bank, w3, settle):
    issuer = issuer_factory("--burn-settle-delay", "hold")
    fund_bank(issuer, bank, 8_000_000, settle)
    supply_before = usdc.totalSupply()
    burn = redeem(issuer, bank, 8_000_000, send_to_redemption(usdc, issuer, bank, 8_000_000, w3))
    delayed = settle(lambda: issuer.client.get_burn(burn.burn_id), lambda b: b.status == BurnStatus.DELAYED
                     and b.payout_status == "owed" and b.reason is not None)
    assert delayed.blockchain_tx_id and supply_before - usdc.totalSupply() == 8_000_000
    reserves = issuer.client.reserves()
    assert reserves.payouts_owed_units == 8_000_000
    assert reserves.backing_units == reserves.total_supply_units == usdc.totalSupply()
    assert issuer.admin("POST", f"/admin/burns/{burn.burn_id}/release").status_code == 200
    done = settle(lambda: issuer.client.get_burn(burn.burn_id), lambda b: b.status == BurnStatus.COMPLETE)
    assert done.payout_status == "sent" and issuer.client.reserves().payouts_owed_units == 0


def test_a_failed_settlement_is_reported_and_the_payout_stays_owed(issuer_factory, usdc, bank, w3, settle):
    issuer = issuer_factory("--burn-fail-rate", "1")
    fund_bank(issuer, bank, 3_000_000, settle)
    burn = redeem(issuer, bank, 3_000_000, send_to_redemption(usdc, issuer, bank, 3_000_000, w3))
    done = settle(lambda: issuer.client.get_burn(burn.burn_id), lambda b: b.status == BurnStatus.FAILED)
    assert done.payout_status == "owed" and "settle" in (done.reason or "")
    assert issuer.client.reserves().payouts_owed_units == 3_000_000


def test_webhooks_are_signed_retried_and_verifiable(issuer_factory, receiver, tmp_path, bank, usdc, settle):
    secret_file = tmp_path / "webhook.secret"
    secret_file.write_text(SECRET)
    secret_file.chmod(0o600)
    receiver.fail_first = 2  # the bank's endpoint is down twice: the issuer retries
    issuer = issuer_factory("--webhook", receiver.url, "--webhook-secret-file", str(secret_file),
                            "--webhook-backoff", "0.05")
    fund_bank(issuer, bank, 2_000_000, settle)
    delivered = settle(lambda: [r for r in receiver.received if r[2] == 200], lambda got: len(got) == 1)
    assert [code for _, _, code in receiver.received] == [500, 500, 200]
    bodies = {body for _, body, _ in receiver.received}
    assert len(bodies) == 1  # the same event each time
    headers, body, _ = delivered[0]
    verify_webhook(SECRET.encode(), headers, body)
    event = json.loads(body)
    assert event["type"] == "mint.complete" and event["data"]["status"] == "complete"
    assert event["data"]["amount"] == "2.000000" and event["data"]["blockchain_tx_id"]
    with pytest.raises(WebhookSignatureError):
        verify_webhook(SECRET.encode(), headers, body.replace(b"2.000000", b"9.000000"))
    with pytest.raises(WebhookSignatureError):
        verify_webhook(b"another secret", headers, body)
