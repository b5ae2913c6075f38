"""PKCS#11 sessions: none leak, and closing one never logs the others out."""

from __future__ import annotations

import ctypes
import logging
import os

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
