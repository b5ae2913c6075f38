"""The issuer service killed (SIGKILL) with a mint on the wire and restarted on the same
database: the stored signed transaction is followed, nothing is minted twice; no secret in logs."""

from __future__ import annotations

import signal
import time

import pytest
from eth_account import Account

from keeper.integrations.issuer import MintStatus, new_idempotency_key

pytestmark = pytest.mark.fork


def kill_with_the_mint_signed_then_drop_it(issuer, w3, units, dest):
    """With automine off: ask for a mint, wait until the service has signed and broadcast it,
    SIGKILL the service, make the node forget the transaction. Returns (mint, sent)."""
    mint = issuer.client.create_mint(units=units, destination_address=dest, reference="R-L",
                                     idempotency_key=new_idempotency_key())
    sent = mint
    for _ in range(300):  # no block is mined: the signed mint waits in the mempool
        sent = issuer.client.get_mint(mint.mint_id)
        if sent.blockchain_tx_id:
            break
        time.sleep(0.1)
    assert sent.blockchain_tx_id and sent.status is MintStatus.PENDING
    issuer.proc.send_signal(signal.SIGKILL)
    issuer.proc.wait(timeout=30)
    w3.provider.make_request("anvil_dropTransaction", [sent.blockchain_tx_id])
    assert w3.eth.get_transaction_count(issuer.address, "pending") == w3.eth.get_transaction_count(
        issuer.address)  # the node has forgotten it
    return mint, sent


def test_sigkill_with_a_mint_in_flight_then_restart_mints_exactly_once(
        issuer_factory, minter_key, usdc, w3, settle, tmp_path):
    db = tmp_path / "issuer.db"
    first = issuer_factory("--confirmations", "6", db=db)
    dest = Account.create().address
    key = new_idempotency_key()
    mint = first.client.create_mint(units=123_000_000, destination_address=dest, reference="R-K",
                                    idempotency_key=key)
    sent = settle(lambda: first.client.get_mint(mint.mint_id), lambda m: m.blockchain_tx_id is not None)
    assert sent.status is MintStatus.PENDING  # broadcast, not yet 6 confirmations
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=30)
    nonce = w3.eth.get_transaction_count(first.address)

    second = issuer_factory("--confirmations", "6", db=db)
    assert second.address == first.address
    again = second.client.create_mint(units=123_000_000, destination_address=dest, reference="R-K",
                                      idempotency_key=key)
    assert again.mint_id == mint.mint_id
    done = settle(lambda: second.client.get_mint(mint.mint_id), lambda m: m.status != MintStatus.PENDING)
    assert done.status is MintStatus.COMPLETE and done.blockchain_tx_id == sent.blockchain_tx_id
    assert usdc.balanceOf(dest) == 123_000_000
    assert w3.eth.get_transaction_count(first.address) == nonce  # no second transaction
    logs = first.log.read_text() + second.log.read_text()
    assert "minter" in logs  # the service does log
    for secret in (minter_key.removeprefix("0x"), second.admin_token):
        assert secret not in logs


def test_sigkill_after_signing_with_the_tx_lost_from_the_mempool_rebroadcasts_the_same_tx(
        issuer_factory, usdc, w3, settle, tmp_path):
    db = tmp_path / "issuer.db"
    first = issuer_factory(db=db)
    dest = Account.create().address
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        mint, sent = kill_with_the_mint_signed_then_drop_it(first, w3, 77_000_000, dest)
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    second = issuer_factory(db=db)
    done = settle(lambda: second.client.get_mint(mint.mint_id), lambda m: m.status != MintStatus.PENDING)
    assert done.status is MintStatus.COMPLETE and done.blockchain_tx_id == sent.blockchain_tx_id
    assert usdc.balanceOf(dest) == 77_000_000


def test_a_mint_whose_nonce_was_taken_while_down_is_re_signed_and_minted_once(
        issuer_factory, minter_key, usdc, w3, settle, tmp_path):
    db = tmp_path / "issuer.db"
    first = issuer_factory(db=db)
    dest = Account.create().address
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        mint, sent = kill_with_the_mint_signed_then_drop_it(first, w3, 5_500_000, dest)
        # the same key spends that nonce on something else (an operator's manual transaction)
        nonce = w3.eth.get_transaction_count(first.address)
        other = Account.sign_transaction({
            "to": first.address, "value": 0, "gas": 21_000, "nonce": nonce, "chainId": w3.eth.chain_id,
            "maxFeePerGas": 2 * w3.eth.get_block("latest")["baseFeePerGas"] + 10**9,
            "maxPriorityFeePerGas": 10**9}, minter_key)
        w3.eth.send_raw_transaction(other.raw_transaction)
        w3.provider.make_request("anvil_mine", ["0x1"])
        assert w3.eth.get_transaction_count(first.address) == nonce + 1
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    second = issuer_factory(db=db)
    done = settle(lambda: second.client.get_mint(mint.mint_id), lambda m: m.status != MintStatus.PENDING)
    assert done.status is MintStatus.COMPLETE, done
    assert done.blockchain_tx_id != sent.blockchain_tx_id  # a new transaction at a fresh nonce
    assert usdc.balanceOf(dest) == 5_500_000
