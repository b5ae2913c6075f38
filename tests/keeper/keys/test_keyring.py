"""The keys public surface: sign an EIP-1559 tx / EIP-712 hash / BTC sighash by key label.

Every result is checked by an independent implementation (eth_account, embit) against the
key pinned at enrolment.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
from embit import ec as embit_ec
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from keeper.keys import KeyMismatchError, Keyring, SoftwareSigner, eth_address
from keeper.keys.hsm import backup_token, ensure_local_token


def _pins(cfg) -> dict[str, bytes]:
    return {k: bytes.fromhex(v) for k, v in json.loads(cfg.pins.read_text()).items()}


@pytest.fixture
def ring_and_pins(tmp_path):
    primary = ensure_local_token(tmp_path / "primary")
    backup = backup_token(primary, tmp_path / "backup")
    ring = Keyring.from_hsm(primary, backup=backup)
    yield ring, _pins(primary), primary, tmp_path
    ring.close()


def test_labels_and_public_keys_are_the_pinned_ones(ring_and_pins):
    ring, pins, _, _ = ring_and_pins
    assert set(ring.labels) == set(pins)
    for label, pub in pins.items():
        assert ring.public_key(label) == pub
        assert ring.eth_address(label) == eth_address(pub)
    with pytest.raises(LookupError, match="no-such-key"):
        ring.public_key("no-such-key")


def test_eip1559_tx_by_label_is_accepted_by_anvil(ring_and_pins, chain_w3):
    ring, pins, _, _ = ring_and_pins
    w3 = chain_w3
    sender = eth_address(pins["eth-hot"])
    w3.provider.make_request("anvil_setBalance", [sender, hex(10**18)])
    base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
    raw = ring.sign_eip1559("eth-hot", {
        "chainId": w3.eth.chain_id, "nonce": w3.eth.get_transaction_count(sender),
        "maxPriorityFeePerGas": 10**9, "maxFeePerGas": 2 * base_fee + 10**9, "gas": 21_000,
        "to": "0x000000000000000000000000000000000000dEaD", "value": 777,
    })
    assert Account.recover_transaction(raw) == sender
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(raw), timeout=30)
    assert receipt["status"] == 1 and receipt["from"] == sender


def test_eip712_hash_by_label_recovers_to_the_pinned_address(ring_and_pins):
    ring, pins, _, _ = ring_and_pins
    typed = {
        "types": {
            "EIP712Domain": [{"name": "chainId", "type": "uint256"},
                             {"name": "verifyingContract", "type": "address"}],
            "Payment": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
        },
        "primaryType": "Payment",
        "domain": {"chainId": 1, "verifyingContract": "0x" + "ab" * 20},
        "message": {"to": "0x" + "12" * 20, "amount": 10**6},
    }
    signable = encode_typed_data(full_message=typed)
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    sig = ring.sign_eip712_hash("safe-signer", digest)
    assert len(sig) == 65 and sig[64] in (27, 28)
    assert Account.recover_message(signable, signature=sig) == eth_address(pins["safe-signer"])


def test_btc_sighash_by_label_verifies_with_embit(ring_and_pins):
    ring, pins, primary, tmp_path = ring_and_pins
    pub = embit_ec.PublicKey.parse(pins["btc-cosigner"])
    for _ in range(3):
        sighash = os.urandom(32)
        der = ring.sign_btc_sighash("btc-cosigner", sighash)
        assert pub.verify(embit_ec.Signature.parse(der), sighash)
    # still the pinned key after the primary token is lost
    shutil.move(primary.conf.parent / "tokens", tmp_path / "gone")
    sighash = os.urandom(32)
    assert pub.verify(embit_ec.Signature.parse(ring.sign_btc_sighash("btc-cosigner", sighash)),
                      sighash)


def test_signer_with_another_key_than_pinned_is_refused():
    pinned = SoftwareSigner(b"\x11" * 32).public_key()
    with pytest.raises(KeyMismatchError):
        Keyring({"k": SoftwareSigner(b"\x22" * 32)}, {"k": pinned})


class _ClaimsThePinnedKey:
    """A hostile signer: reports the pinned public key, signs with another key."""

    def __init__(self, claimed: bytes) -> None:
        self._claimed = claimed
        self._real = SoftwareSigner(b"\x22" * 32)

    def public_key(self) -> bytes:
        return self._claimed

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        return self._real.sign_digest(digest)


def test_a_signature_by_another_key_is_never_returned():
    pinned = SoftwareSigner(b"\x11" * 32).public_key()
    ring = Keyring({"k": _ClaimsThePinnedKey(pinned)}, {"k": pinned})
    with pytest.raises(KeyMismatchError):
        ring.sign_btc_sighash("k", os.urandom(32))
    with pytest.raises(KeyMismatchError):
        ring.sign_eip712_hash("k", os.urandom(32))
    with pytest.raises(KeyMismatchError):
        ring.signer("k").sign_digest(os.urandom(32))
