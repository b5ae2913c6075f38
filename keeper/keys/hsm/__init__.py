"""Signing over PKCS#11 (SoftHSM2 locally; Luna / CloudHSM in production)."""

from keeper.keys.hsm.config import (
    AUDIT_ANCHOR_KEY,
    DEFAULT_EC_KEYS,
    SEED_WRAP_KEY,
    SOFTHSM_MODULE,
    HsmConfig,
    backup_token,
    ensure_local_token,
)
from keeper.keys.hsm.errors import HsmUnavailableError, KeyMismatchError
from keeper.keys.hsm.failover import FailoverSigner
from keeper.keys.hsm.module import load_module
from keeper.keys.hsm.pins import enrol_pins, load_pins, pinned_key
from keeper.keys.hsm.signer import HsmSeedWrapper, HsmSigner, token_public_keys

__all__ = [
    "AUDIT_ANCHOR_KEY",
    "DEFAULT_EC_KEYS",
    "SEED_WRAP_KEY",
    "SOFTHSM_MODULE",
    "FailoverSigner",
    "HsmConfig",
    "HsmSeedWrapper",
    "HsmSigner",
    "HsmUnavailableError",
    "KeyMismatchError",
    "backup_token",
    "enrol_pins",
    "ensure_local_token",
    "load_module",
    "load_pins",
    "pinned_key",
    "token_public_keys",
]
