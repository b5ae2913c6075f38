"""HSM signer over PKCS#11 (SoftHSM2): keys stay in the token, signatures verify anywhere."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import sys
import traceback

import coincurve
import pkcs11
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st
from pkcs11 import Attribute

from keeper.keys import SafeTx, safe_tx_hash, sign_eip1559, sign_safe_tx, signer_address
from keeper.keys.ecdsa import SECP256K1_HALF_N, der_encode, sign_recoverable
from keeper.keys.hsm import (
    FailoverSigner,
    HsmSeedWrapper,
    HsmSigner,
    backup_token,
    ensure_local_token,
)


@pytest.fixture(scope="module")
def eth_signer(hsm_config):
    signer = HsmSigner(hsm_config, "eth-hot")
    yield signer
    signer.close()


def test_local_token_is_idempotent_and_pins_are_private(hsm_config):
    data_dir = hsm_config.conf.parent.parent
    again = ensure_local_token(data_dir)
    assert again == hsm_config
    assert len(list((data_dir / "hsm" / "tokens").iterdir())) == 1
    for name in ("so-pin", "user-pin"):
        mode = stat.S_IMODE(os.stat(data_dir / "hsm" / "secrets" / name).st_mode)
        assert mode == 0o600
    # keys survive: same public key after a second ensure
    assert HsmSigner(again, "eth-hot").public_key() == HsmSigner(hsm_config, "eth-hot").public_key()


def test_signature_recovers_to_token_eth_address(eth_signer):
    digest = os.urandom(32)
    v, r, s = sign_recoverable(eth_signer, digest)
    recovered = Account._recover_hash(digest, vrs=(v + 27, r, s))
    assert recovered == signer_address(eth_signer)


@settings(max_examples=15, deadline=None)
@given(digest=st.binary(min_size=32, max_size=32))
def test_signatures_are_low_s_and_verify(eth_signer, digest):
    r, s = eth_signer.sign_digest(digest)
    assert s <= SECP256K1_HALF_N
    # libsecp256k1 itself rejects high-s, so this also checks normalisation
    assert coincurve.PublicKey(eth_signer.public_key()).verify(
        der_encode(r, s), digest, hasher=None
    )


def test_private_key_value_cannot_be_read(eth_signer):
    priv = eth_signer.private_key_handle()
    assert priv[Attribute.SENSITIVE] is True
    assert priv[Attribute.EXTRACTABLE] is False
    with pytest.raises(pkcs11.exceptions.AttributeSensitive):
        _ = priv[Attribute.VALUE]


def test_safe_tx_hash_matches_eth_account_and_signature_recovers(hsm_config):
    signer = HsmSigner(hsm_config, "safe-signer")
    safe = "0x" + "ab" * 20
    tx = SafeTx("0x" + "12" * 20, 10**18, b"\x01\x02", 0, 0, 0, 0, "0x" + "00" * 20,
                "0x" + "00" * 20, 7)
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "SafeTx": [
                {"name": "to", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "data", "type": "bytes"},
                {"name": "operation", "type": "uint8"},
                {"name": "safeTxGas", "type": "uint256"},
                {"name": "baseGas", "type": "uint256"},
                {"name": "gasPrice", "type": "uint256"},
                {"name": "gasToken", "type": "address"},
                {"name": "refundReceiver", "type": "address"},
                {"name": "nonce", "type": "uint256"},
            ],
        },
        "primaryType": "SafeTx",
        "domain": {"chainId": 1, "verifyingContract": safe},
        "message": {
            "to": tx.to, "value": tx.value, "data": tx.data, "operation": 0, "safeTxGas": 0,
            "baseGas": 0, "gasPrice": 0, "gasToken": tx.gas_token,
            "refundReceiver": tx.refund_receiver, "nonce": 7,
        },
    }
    signable = encode_typed_data(full_message=typed)
    sig = sign_safe_tx(signer, 1, safe, tx)
    assert sig[64] in (27, 28)
    assert Account.recover_message(signable, signature=sig) == signer_address(signer)
    from eth_utils import keccak
    assert safe_tx_hash(1, safe, tx) == keccak(b"\x19" + signable.version + signable.header
                                                + signable.body)


def test_eip1559_tx_signed_in_hsm_is_accepted_by_anvil(eth_signer, chain_w3):
    w3 = chain_w3
    sender = signer_address(eth_signer)
    w3.provider.make_request("anvil_setBalance", [sender, hex(10**18)])
    to = "0x000000000000000000000000000000000000dEaD"
    before = w3.eth.get_balance(to)
    base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
    raw = sign_eip1559(
        eth_signer,
        {
            "chainId": w3.eth.chain_id,
            "nonce": w3.eth.get_transaction_count(sender),
            "maxPriorityFeePerGas": 10**9,
            "maxFeePerGas": 2 * base_fee + 10**9,
            "gas": 21_000,
            "to": to,
            "value": 12_345,
        },
    )
    tx_hash = w3.eth.send_raw_transaction(raw)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1
    assert receipt["from"] == sender
    assert w3.eth.get_balance(to) - before == 12_345


def test_failover_to_backup_token_mid_run(tmp_path):
    primary_cfg = ensure_local_token(tmp_path / "primary")
    backup_cfg = backup_token(primary_cfg, tmp_path / "backup")
    signer = FailoverSigner(HsmSigner(primary_cfg, "eth-hot"), HsmSigner(backup_cfg, "eth-hot"))
    pub = signer.public_key()
    verify = coincurve.PublicKey(pub)
    for _ in range(5):
        d = os.urandom(32)
        assert verify.verify(der_encode(*signer.sign_digest(d)), d, hasher=None)
    assert signer.active == "primary"
    # the primary HSM disappears mid-run
    shutil.move(primary_cfg.conf.parent / "tokens", tmp_path / "primary-gone")
    for _ in range(5):
        d = os.urandom(32)
        assert verify.verify(der_encode(*signer.sign_digest(d)), d, hasher=None)
    assert signer.active == "backup"
    assert signer.failovers == 1
    assert signer.public_key() == pub


def test_pin_never_reaches_logs(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("pkcs11").setLevel(logging.DEBUG)
    cfg = ensure_local_token(tmp_path)
    pin = cfg.pin.read().reveal()
    so_pin = cfg.so_pin.read().reveal()
    signer = HsmSigner(cfg, "eth-hot")
    signer.sign_digest(os.urandom(32))
    wrapper = HsmSeedWrapper(cfg)
    wrapper.unwrap(wrapper.wrap(os.urandom(32)))
    assert repr(cfg.pin.read()) == "Secret(***)"
    assert pin not in repr(cfg) and pin not in repr(signer)
    text = caplog.text
    assert caplog.records, "expected the set-up to log something at DEBUG/INFO"
    assert pin not in text and so_pin not in text


def test_seed_wrapping_roundtrip_and_tamper(hsm_config):
    wrapper = HsmSeedWrapper(hsm_config)
    seed = os.urandom(64)
    blob = wrapper.wrap(seed)
    assert seed not in blob
    assert wrapper.unwrap(blob) == seed
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(pkcs11.PKCS11Error):
        wrapper.unwrap(tampered)


def _recording_softhsm_util(tmp_path, monkeypatch):
    """Put a softhsm2-util on PATH that records its argv, then runs the real tool."""
    real = shutil.which("softhsm2-util")
    if real is None:
        pytest.skip("softhsm2-util not installed (apt softhsm2)")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "argv.log"
    tool = bindir / "softhsm2-util"
    tool.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{log}"\nexec "{real}" "$@"\n')
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    return log


def test_pins_never_on_a_command_line(tmp_path, monkeypatch):
    """Other local users can read any process's argv (/proc/<pid>/cmdline)."""
    argv_log = _recording_softhsm_util(tmp_path, monkeypatch)
    cfg = ensure_local_token(tmp_path / "data")
    assert "--init-token" in argv_log.read_text()
    for source in (cfg.pin, cfg.so_pin):
        assert source.read().reveal() not in argv_log.read_text()
    # the token answers to the SO PIN of the secret file (checked in a fresh process, where
    # no user login of ours stands in the way of an SO login), then to the user PIN
    so_check = subprocess.run(
        [sys.executable, "-c",
         "import sys; from pathlib import Path\n"
         "from keeper.keys.hsm import HsmConfig, load_module\n"
         "from keeper.keys.secrets import PinSource\n"
         "cfg = HsmConfig(Path(sys.argv[1]), sys.argv[2], PinSource(), Path(sys.argv[3]))\n"
         "tok = load_module(cfg).get_token(token_label=sys.argv[2])\n"
         "with tok.open(rw=True, so_pin=PinSource(file=Path(sys.argv[4])).read().reveal()) as s:\n"
         "    print(s.user_type.name)",
         str(cfg.module), cfg.token_label, str(cfg.conf), str(cfg.so_pin.file)],
        capture_output=True, text=True, check=False,
    )
    assert so_check.returncode == 0, so_check.stderr[-500:]
    assert so_check.stdout.strip() == "SO"
    signer = HsmSigner(cfg, "eth-hot")
    d = os.urandom(32)
    assert coincurve.PublicKey(signer.public_key()).verify(
        der_encode(*signer.sign_digest(d)), d, hasher=None)


def test_pins_never_in_exception_messages(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Exception) as failed:  # noqa: PT011 - any error, as long as it is clean
        ensure_local_token(tmp_path, label="x" * 40)  # softhsm2-util refuses > 32 chars
    secrets = [(tmp_path / "hsm" / "secrets" / n).read_text().strip()
               for n in ("so-pin", "user-pin")]
    text = "".join(traceback.format_exception(failed.value)) + caplog.text
    assert "label" in text
    for secret in secrets:
        assert secret not in text
