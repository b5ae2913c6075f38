"""PKCS#11 signer: secp256k1 keys that live (and stay) inside the token.

Works with SoftHSM2 locally and with a Luna / CloudHSM module in production: only
``HsmConfig.module`` (and the token label / PIN source) changes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import NoSuchKey

from keeper.keys.ecdsa import compress_point, normalize_s, split_raw
from keeper.keys.hsm.config import SEED_WRAP_KEY, HsmConfig

log = logging.getLogger(__name__)

#: DER-encoded OID 1.3.132.0.10 (secp256k1) for CKA_EC_PARAMS.
SECP256K1_PARAMS = bytes.fromhex("06052b8104000a")

_LIBS: dict[tuple[str, str | None], Any] = {}
_USED_PATHS: set[str] = set()
_LOAD_LOCK = threading.Lock()


def load_module(config: HsmConfig) -> Any:
    """Load (once) the PKCS#11 module for ``config`` and return the ``pkcs11.lib``.

    SoftHSM2 reads ``SOFTHSM2_CONF`` once, at ``C_Initialize``, per loaded library image;
    one process that talks to two SoftHSM2 tokens with different configs (primary and
    backup) therefore loads a private copy of the module for the second config.
    """
    key = (str(config.module), str(config.conf) if config.conf else None)
    with _LOAD_LOCK:
        if key in _LIBS:
            return _LIBS[key]
        path = str(config.module)
        if config.conf is not None and path in _USED_PATHS:
            digest = hashlib.sha256(str(config.conf).encode()).hexdigest()[:16]
            cache = Path(tempfile.gettempdir()) / "strongroom-pkcs11"
            cache.mkdir(mode=0o700, exist_ok=True)
            copy = cache / f"{digest}-{config.module.name}"
            if not copy.exists():
                shutil.copy2(config.module, copy)
            path = str(copy)
        previous = os.environ.get("SOFTHSM2_CONF")
        try:
            if config.conf is not None:
                os.environ["SOFTHSM2_CONF"] = str(config.conf)
            lib = pkcs11.lib(path)
        finally:
            if previous is None:
                os.environ.pop("SOFTHSM2_CONF", None)
            else:
                os.environ["SOFTHSM2_CONF"] = previous
        _USED_PATHS.add(path)
        _LIBS[key] = lib
        return lib


def open_session(config: HsmConfig, rw: bool = False) -> Any:
    """Open a logged-in session on the configured token (PIN read at this moment only).

    PKCS#11 login state is per application and token: when another session of this process
    is already logged in, the new session shares that login.
    """
    token = load_module(config).get_token(token_label=config.token_label)
    try:
        return token.open(user_pin=config.pin.read().reveal(), rw=rw)
    except pkcs11.exceptions.UserAlreadyLoggedIn:
        return token.open(rw=rw)


def ensure_keys(config: HsmConfig, ec_labels: tuple[str, ...]) -> None:
    """Generate the missing secp256k1 keys and the AES seed-wrap key inside the token."""
    with open_session(config, rw=True) as session:
        for label in ec_labels:
            try:
                session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
                continue
            except NoSuchKey:
                pass
            params = session.create_domain_parameters(
                KeyType.EC, {Attribute.EC_PARAMS: SECP256K1_PARAMS}, local=True
            )
            params.generate_keypair(
                store=True,
                label=label,
                public_template={Attribute.VERIFY: True},
                private_template={
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.SIGN: True,
                    Attribute.PRIVATE: True,
                },
            )
            log.info("generated secp256k1 key %r in token %r", label, config.token_label)
        try:
            session.get_key(object_class=ObjectClass.SECRET_KEY, label=SEED_WRAP_KEY)
        except NoSuchKey:
            session.generate_key(
                KeyType.AES,
                256,
                store=True,
                label=SEED_WRAP_KEY,
                template={
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.ENCRYPT: True,
                    Attribute.DECRYPT: True,
                },
            )
            log.info("generated AES seed-wrap key in token %r", config.token_label)


class HsmSigner:
    """Signs 32-byte digests with one secp256k1 key held in a PKCS#11 token.

    Returns low-s ``(r, s)``; the key never leaves the token. One logged-in session is
    kept open and used under a lock (PKCS#11 sessions are not thread-safe).
    """

    def __init__(self, config: HsmConfig, key_label: str) -> None:
        self.config = config
        self.key_label = key_label
        self._lock = threading.Lock()
        self._session: Any = None
        self._priv: Any = None
        self._pub: bytes | None = None

    def _connect(self) -> None:
        session = open_session(self.config)
        try:
            self._priv = session.get_key(
                object_class=ObjectClass.PRIVATE_KEY, label=self.key_label
            )
            pub = session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=self.key_label)
            self._pub = compress_point(pub[Attribute.EC_POINT])
        except Exception:
            session.close()
            raise
        self._session = session

    def public_key(self) -> bytes:
        """The 33-byte compressed public key of the token key."""
        with self._lock:
            if self._pub is None:
                self._connect()
            assert self._pub is not None  # noqa: S101 - set by _connect
            return self._pub

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        """Sign a 32-byte digest inside the token (CKM_ECDSA) and normalise to low-s."""
        if len(digest) != 32:
            raise ValueError("digest must be 32 bytes")
        with self._lock:
            if self._session is None:
                self._connect()
            raw = self._priv.sign(digest, mechanism=Mechanism.ECDSA)
        return normalize_s(*split_raw(raw))

    def private_key_handle(self) -> Any:
        """The PKCS#11 private key object (attributes readable only if the token allows)."""
        with self._lock:
            if self._session is None:
                self._connect()
            return self._priv

    def close(self) -> None:
        """Close the session (idempotent); errors from a dead token are swallowed."""
        with self._lock:
            if self._session is not None:
                try:
                    self._session.close()
                except pkcs11.PKCS11Error:
                    log.debug("closing a session on an unavailable token")
            self._session = None
            self._priv = None

    def __repr__(self) -> str:
        return f"HsmSigner(token={self.config.token_label!r}, key={self.key_label!r})"


class HsmSeedWrapper:
    """Encrypts cosigner seeds with the token's AES-256 key (AES-GCM, random 96-bit IV).

    Wrapped blob = ``iv || ciphertext || tag``; only the token can open it.
    """

    def __init__(self, config: HsmConfig, key_label: str = SEED_WRAP_KEY) -> None:
        self.config = config
        self.key_label = key_label

    def wrap(self, seed: bytes, aad: bytes = b"strongroom-seed") -> bytes:
        """Return the wrapped (encrypted, authenticated) seed."""
        iv = os.urandom(12)
        with open_session(self.config) as session:
            key = session.get_key(object_class=ObjectClass.SECRET_KEY, label=self.key_label)
            ct = key.encrypt(
                seed, mechanism=Mechanism.AES_GCM, mechanism_param=pkcs11.GCMParams(iv, aad)
            )
        return iv + ct

    def unwrap(self, blob: bytes, aad: bytes = b"strongroom-seed") -> bytes:
        """Decrypt a wrapped seed inside the token; fails if the blob was altered."""
        iv, ct = blob[:12], blob[12:]
        with open_session(self.config) as session:
            key = session.get_key(object_class=ObjectClass.SECRET_KEY, label=self.key_label)
            return bytes(
                key.decrypt(
                    ct, mechanism=Mechanism.AES_GCM, mechanism_param=pkcs11.GCMParams(iv, aad)
                )
            )
