"""Signing over PKCS#11 (SoftHSM2 locally; Luna / CloudHSM in production)."""

from keeper.keys.hsm.config import (
    DEFAULT_EC_KEYS,
    SEED_WRAP_KEY,
    SOFTHSM_MODULE,
    HsmConfig,
    backup_token,
    ensure_local_token,
)
from keeper.keys.hsm.failover import FailoverSigner, HsmUnavailableError
from keeper.keys.hsm.signer import HsmSeedWrapper, HsmSigner, load_module

__all__ = [
    "DEFAULT_EC_KEYS",
    "SEED_WRAP_KEY",
    "SOFTHSM_MODULE",
    "FailoverSigner",
    "HsmConfig",
    "HsmSeedWrapper",
    "HsmSigner",
    "HsmUnavailableError",
    "backup_token",
    "ensure_local_token",
    "load_module",
]
