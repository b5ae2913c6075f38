"""Failover never signs with a different key: every key label is pinned, every signature checked.

Two real SoftHSM2 tokens: the primary and either its backup copy, or an "impostor" token that
holds keys under the same labels but different key material.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import coincurve
import pytest
from eth_account import Account
from pkcs11 import Attribute, KeyType, ObjectClass

from keeper.keys import SafeTx, safe_tx_hash, sign_eip1559, sign_safe_tx
from keeper.keys.ecdsa import der_encode, eth_address
from keeper.keys.hsm import (
    FailoverSigner,
    HsmConfig,
    HsmSeedWrapper,
    HsmSigner,
    HsmUnavailableError,
    KeyMismatchError,
    backup_token,
    ensure_local_token,
)
from keeper.keys.hsm.session import forget_login, open_session
from keeper.keys.hsm.signer import SECP256K1_PARAMS

LABEL = "eth-hot"
TX = {
    "chainId": 1, "nonce": 0, "maxPriorityFeePerGas": 10**9, "maxFeePerGas": 3 * 10**10,
    "gas": 21_000, "to": "0x000000000000000000000000000000000000dEaD", "value": 1,
}


def _pins(cfg: HsmConfig) -> dict[str, bytes]:
    """The enrolment record, read independently of the code under test."""
    return {k: bytes.fromhex(v) for k, v in json.loads(cfg.pins.read_text()).items()}


def _verifies(pub: bytes, digest: bytes, sig: tuple[int, int]) -> bool:
    return coincurve.PublicKey(pub).verify(der_encode(*sig), digest, hasher=None)


def _tokens(cfg: HsmConfig) -> Path:
    return cfg.conf.parent / "tokens"


@pytest.fixture
def tokens(tmp_path):
    """(primary, backup copy, impostor with the same labels but its own keys)."""
    primary = ensure_local_token(tmp_path / "primary")
    backup = backup_token(primary, tmp_path / "backup")
    # same PINs, so only the key material differs
    shutil.copytree(primary.conf.parent / "secrets", tmp_path / "impostor" / "hsm" / "secrets")
    impostor = ensure_local_token(tmp_path / "impostor")
    assert _pins(impostor)[LABEL] != _pins(primary)[LABEL]
    return primary, backup, impostor


def test_enrolment_pins_every_label_and_refuses_a_swapped_token(tokens, tmp_path):
    primary, backup, impostor = tokens
    pins = _pins(primary)
    assert set(pins) >= {"eth-hot", "safe-signer", "btc-cosigner"}
    for label, pub in pins.items():
        signer = HsmSigner(primary, label)
        d = os.urandom(32)
        assert _verifies(pub, d, signer.sign_digest(d))
        signer.close()
    assert backup.pins == primary.pins  # the backup is checked against the primary's record
    # the primary's token directory is replaced by another token: set-up (its own process)
    # refuses to re-pin
    shutil.rmtree(_tokens(primary))
    shutil.copytree(_tokens(impostor), _tokens(primary))
    setup = subprocess.run(
        [sys.executable, "-c", "import sys; from pathlib import Path; "
         "from keeper.keys.hsm import ensure_local_token; ensure_local_token(Path(sys.argv[1]))",
         str(tmp_path / "primary")],
        capture_output=True, text=True, check=False,
    )
    assert setup.returncode != 0
    assert "KeyMismatchError" in setup.stderr
    assert _pins(primary) == pins


def test_failover_needs_a_pinned_key(tokens):
    primary, backup, _ = tokens
    unpinned = [HsmSigner(replace(c, pins=None), LABEL) for c in (primary, backup)]
    with pytest.raises(ValueError, match="pinned"):
        FailoverSigner(*unpinned)


def test_backup_with_other_key_is_refused_even_when_primary_is_dead_from_the_start(tokens, tmp_path):
    primary, _, impostor = tokens
    pinned = _pins(primary)[LABEL]
    # misconfigured backup: another token, same token label and key label
    signer = FailoverSigner(HsmSigner(primary, LABEL),
                            HsmSigner(replace(impostor, pins=primary.pins), LABEL))
    shutil.move(_tokens(primary), tmp_path / "primary-gone")
    assert signer.public_key() == pinned
    with pytest.raises(KeyMismatchError):
        signer.sign_digest(os.urandom(32))
    with pytest.raises(KeyMismatchError):
        sign_eip1559(signer, TX)
    assert signer.active == "primary" and signer.failovers == 0


def test_backup_with_planted_public_object_never_releases_a_signature(tokens, tmp_path):
    """The impostor's public object claims the pinned key; its private key is another one."""
    primary, _, impostor = tokens
    pinned = _pins(primary)[LABEL]
    with open_session(impostor, rw=True) as session:
        session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=LABEL).destroy()
        point = coincurve.PublicKey(pinned).format(compressed=False)
        session.create_object({
            Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.KEY_TYPE: KeyType.EC,
            Attribute.EC_PARAMS: SECP256K1_PARAMS, Attribute.EC_POINT: b"\x04\x41" + point,
            Attribute.LABEL: LABEL, Attribute.TOKEN: True, Attribute.VERIFY: True,
        })
    signer = FailoverSigner(HsmSigner(primary, LABEL),
                            HsmSigner(replace(impostor, pins=primary.pins), LABEL))
    d = os.urandom(32)
    assert _verifies(pinned, d, signer.sign_digest(d))
    shutil.move(_tokens(primary), tmp_path / "primary-gone")
    with pytest.raises(KeyMismatchError):
        signer.sign_digest(os.urandom(32))
    tx = SafeTx("0x" + "12" * 20, 1, b"", 0, 0, 0, 0, "0x" + "00" * 20, "0x" + "00" * 20, 0)
    with pytest.raises(KeyMismatchError):
        sign_safe_tx(signer, 1, "0x" + "ab" * 20, tx)
    assert safe_tx_hash(1, "0x" + "ab" * 20, tx)  # nothing else to release
    assert signer.active == "primary"


def test_single_signer_with_other_key_than_pinned_refuses(tokens):
    primary, _, impostor = tokens
    pinned = _pins(primary)[LABEL]
    signer = HsmSigner(impostor, LABEL, expected_public_key=pinned)
    assert signer.public_key() == pinned
    with pytest.raises(KeyMismatchError):
        signer.sign_digest(os.urandom(32))


def test_reset_to_primary_rechecks_the_key(tokens, tmp_path):
    primary, backup, impostor = tokens
    pinned = _pins(primary)[LABEL]
    pinned_address = eth_address(pinned)
    signer = FailoverSigner(HsmSigner(primary, LABEL), HsmSigner(backup, LABEL))
    assert signer.sign_digest(os.urandom(32))
    shutil.move(_tokens(primary), tmp_path / "primary-gone")
    raw = sign_eip1559(signer, TX)
    assert Account.recover_transaction(raw) == pinned_address
    assert signer.active == "backup" and signer.failovers == 1
    # someone "restores" the primary with the wrong token
    shutil.copytree(_tokens(impostor), _tokens(primary))
    with pytest.raises(KeyMismatchError):
        signer.reset_to_primary()
    assert signer.active == "backup"
    d = os.urandom(32)
    assert _verifies(pinned, d, signer.sign_digest(d))
    # the real primary comes back: reset succeeds and signs with the pinned key again
    shutil.rmtree(_tokens(primary))
    shutil.move(tmp_path / "primary-gone", _tokens(primary))
    signer.reset_to_primary()
    assert signer.active == "primary"
    assert Account.recover_transaction(sign_eip1559(signer, TX)) == pinned_address


def test_transient_error_on_backup_session_reconnects(tokens, tmp_path):
    primary, backup, _ = tokens
    pinned = _pins(primary)[LABEL]
    signer = FailoverSigner(HsmSigner(primary, LABEL), HsmSigner(backup, LABEL))
    shutil.move(_tokens(primary), tmp_path / "primary-gone")
    d = os.urandom(32)
    assert _verifies(pinned, d, signer.sign_digest(d))
    assert signer.active == "backup"
    # 1) the backup ends this process's login (as an HSM does on a session timeout)
    forget_login(backup)
    d = os.urandom(32)
    assert _verifies(pinned, d, signer.sign_digest(d))
    # 2) the backup token drops out (a signature attempted meanwhile fails) and comes back
    shutil.move(_tokens(backup), tmp_path / "backup-away")
    with pytest.raises(HsmUnavailableError):
        signer.sign_digest(os.urandom(32))
    shutil.move(tmp_path / "backup-away", _tokens(backup))
    d = os.urandom(32)
    assert _verifies(pinned, d, signer.sign_digest(d))
    assert signer.active == "backup" and signer.failovers == 1
    wrapper = HsmSeedWrapper(backup)
    seed = os.urandom(32)
    assert wrapper.unwrap(wrapper.wrap(seed)) == seed
    d = os.urandom(32)
    assert _verifies(pinned, d, signer.sign_digest(d))


# python-pkcs11 leaves its object-search generator open when get_key finds two objects
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_second_key_under_the_same_label_makes_the_token_refuse(tokens, tmp_path):
    """No guessing which of two same-label keys is meant: that backup is unusable."""
    primary, backup, _ = tokens
    pinned = _pins(primary)[LABEL]
    with open_session(backup, rw=True) as session:
        params = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: SECP256K1_PARAMS}, local=True)
        params.generate_keypair(store=True, label=LABEL,
                                private_template={Attribute.SIGN: True, Attribute.PRIVATE: True})
    signer = FailoverSigner(HsmSigner(primary, LABEL), HsmSigner(backup, LABEL))
    d = os.urandom(32)
    assert _verifies(pinned, d, signer.sign_digest(d))
    shutil.move(_tokens(primary), tmp_path / "primary-gone")
    with pytest.raises(HsmUnavailableError):
        signer.sign_digest(os.urandom(32))
    assert signer.active == "primary" and signer.failovers == 0


def test_concurrent_signers_fail_over_once_and_never_release_a_bad_signature(tokens, tmp_path):
    primary, backup, _ = tokens
    pinned = _pins(primary)[LABEL]
    signer = FailoverSigner(HsmSigner(primary, LABEL), HsmSigner(backup, LABEL))
    results: list[tuple[bytes, tuple[int, int]]] = []
    errors: list[BaseException] = []
    started = threading.Barrier(5)

    def work() -> None:
        started.wait()
        for _ in range(40):
            d = os.urandom(32)
            try:
                results.append((d, signer.sign_digest(d)))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    started.wait()
    shutil.move(_tokens(primary), tmp_path / "primary-gone")
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 160
    assert all(_verifies(pinned, d, sig) for d, sig in results)
    assert signer.active == "backup" and signer.failovers == 1
