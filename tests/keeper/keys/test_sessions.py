"""PKCS#11 sessions: none leak, and closing one never logs the others out."""

from __future__ import annotations

import ctypes
import logging
import os
import subprocess
import sys

import pytest

from keeper.keys.hsm import HsmSeedWrapper, HsmSigner, ensure_local_token, load_module
from keeper.keys.hsm.signer import open_session


class _SessionInfo(ctypes.Structure):
    _fields_ = [("slot", ctypes.c_ulong), ("state", ctypes.c_ulong),
                ("flags", ctypes.c_ulong), ("device_error", ctypes.c_ulong)]


def _live_sessions(cfg, upto: int = 4096) -> int:
    """Count open session handles by asking the very module image (C_GetSessionInfo)."""
    module = ctypes.CDLL(load_module(cfg).so)  # dlopen of a loaded path: the same image
    info = _SessionInfo()
    return sum(module.C_GetSessionInfo(ctypes.c_ulong(h), ctypes.byref(info)) == 0
               for h in range(1, upto))


@pytest.fixture
def cfg(tmp_path):
    return ensure_local_token(tmp_path)


def test_repeated_seed_unwraps_beside_a_signer_leak_no_sessions(cfg):
    signer = HsmSigner(cfg, "eth-hot")
    signer.sign_digest(os.urandom(32))
    wrapper = HsmSeedWrapper(cfg)
    seed = os.urandom(32)
    wrapper.unwrap(wrapper.wrap(seed))
    before = _live_sessions(cfg)
    assert before >= 1
    for _ in range(25):
        assert wrapper.unwrap(wrapper.wrap(seed)) == seed
        signer.sign_digest(os.urandom(32))
    assert _live_sessions(cfg) == before
    signer.close()


def test_closing_a_session_never_logs_the_signers_out(cfg, caplog):
    caplog.set_level(logging.WARNING, logger="keeper.keys")
    held = open_session(cfg)  # e.g. an unwrap in progress when the signer connects
    signers = [HsmSigner(cfg, label) for label in ("eth-hot", "safe-signer")]
    for s in signers:
        s.sign_digest(os.urandom(32))
    held.close()
    signers[1].close()
    signers[0].sign_digest(os.urandom(32))
    assert not [r for r in caplog.records if "reconnecting" in r.getMessage()]


_RACE = """
import os, sys, threading, time
from pathlib import Path
from keeper.keys.ecdsa import verify_digest
from keeper.keys.hsm import HsmSigner, ensure_local_token
from keeper.keys.hsm.session import reset_module

cfg = ensure_local_token(Path(sys.argv[1]))
signers = [HsmSigner(cfg, label) for label in ("eth-hot", "safe-signer", "btc-cosigner")]
stop = time.monotonic() + float(sys.argv[2])
good, bad = [0], []

def sign(signer):
    while time.monotonic() < stop:
        d = os.urandom(32)
        try:
            ok = verify_digest(signer.public_key(), d, *signer.sign_digest(d))
        except Exception as exc:
            bad.append(repr(exc))
            continue
        good[0] += ok
        if not ok:
            bad.append("bad signature")

def reinitialise():
    while time.monotonic() < stop:
        time.sleep(0.005)
        reset_module(cfg)

threads = [threading.Thread(target=sign, args=(s,)) for s in signers]
if sys.argv[3] == "reset":
    threads.append(threading.Thread(target=reinitialise))
for t in threads:
    t.start()
for t in threads:
    t.join()
print(good[0], len(bad), bad[:3])
"""


@pytest.mark.parametrize("reset", ["no-reset", "reset"])
def test_concurrent_signers_on_one_token_never_crash_or_cross_keys(tmp_path, reset):
    """Three signers of one token in three threads (SoftHSM2 runs without locks under
    python-pkcs11's C_Initialize(NULL)); with "reset", also what a reconnect does after a
    token drop-out (C_Finalize + C_Initialize), after which stale object handles may name
    another key. Run in a child process: the failure mode is a segmentation fault."""
    child = subprocess.run(
        [sys.executable, "-c", _RACE, str(tmp_path), "2.5", reset],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert child.returncode == 0, f"child died with {child.returncode}: {child.stderr[-400:]}"
    good, bad, _ = child.stdout.split(maxsplit=2)
    assert int(good) > 0
    assert int(bad) == 0, child.stdout
