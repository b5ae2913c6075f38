"""PKCS#11 signer: secp256k1 keys that live (and stay) inside the token.

Works with SoftHSM2 locally and with a Luna / CloudHSM module in production: only
``HsmConfig.module`` (and the token label / PIN source) changes.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import NoSuchKey

from keeper.keys.ecdsa import compress_point, normalize_s, split_raw, verify_digest
from keeper.keys.hsm.config import SEED_WRAP_KEY, HsmConfig
from keeper.keys.hsm.errors import KeyMismatchError
from keeper.keys.hsm.pins import pinned_key
from keeper.keys.hsm.session import (
    generation,
    open_session,
    open_with_key,
    reset_module,
    using,
)

log = logging.getLogger(__name__)

#: DER-encoded OID 1.3.132.0.10 (secp256k1) for CKA_EC_PARAMS.
SECP256K1_PARAMS = bytes.fromhex("06052b8104000a")


def ensure_keys(config: HsmConfig, ec_labels: tuple[str, ...]) -> None:
    """Generate the missing secp256k1 keys and the AES seed-wrap key inside the token."""
    with using(config), open_session(config, rw=True) as session:
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


#: Failures a reconnection cannot cure (and must not repeat: a wrong PIN counts to lockout).
_NOT_TRANSIENT = (
    pkcs11.exceptions.PinIncorrect,
    pkcs11.exceptions.PinLocked,
    pkcs11.exceptions.PinExpired,
    pkcs11.exceptions.PinLenRange,
    pkcs11.exceptions.NoSuchKey,
    pkcs11.exceptions.MultipleObjectsReturned,
)


def _public_key(session: Any, label: str) -> bytes:
    """Compressed public key of the token's public object ``label``."""
    point = session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label)[Attribute.EC_POINT]
    return compress_point(point)


def _sign(priv: Any, digest: bytes) -> tuple[int, int]:
    """``CKM_ECDSA`` over a 32-byte digest, low-s normalised."""
    return normalize_s(*split_raw(priv.sign(digest, mechanism=Mechanism.ECDSA)))


def token_public_keys(config: HsmConfig, labels: tuple[str, ...]) -> dict[str, bytes]:
    """Compressed public keys of ``labels``, each proven by a probe signature of its private key.

    Raises ``KeyMismatchError`` when a label's private key does not match its public object.
    """
    out: dict[str, bytes] = {}
    with using(config), open_session(config) as session:
        for label in labels:
            priv = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
            pub = _public_key(session, label)
            probe = os.urandom(32)
            if not verify_digest(pub, probe, *_sign(priv, probe)):
                raise KeyMismatchError(f"key {label!r}: private key does not match its public key")
            out[label] = pub
    return out


class HsmSigner:
    """Signs 32-byte digests with one secp256k1 key held in a PKCS#11 token.

    The expected public key is pinned: ``expected_public_key`` if given, else the entry for
    ``key_label`` in ``config.pins`` (``LookupError`` if that record lacks it), else the key
    the token shows at the first connection (one signer never changes keys). Every
    connection checks the token's public key and every signature is verified against the
    pin before it is returned (``KeyMismatchError`` otherwise). A PKCS#11 failure of the
    session (logged out, token dropped out and back) reconnects once and retries.

    Returns low-s ``(r, s)``; the key never leaves the token. One logged-in session is
    kept open and used under a lock (PKCS#11 sessions are not thread-safe).
    """

    def __init__(
        self, config: HsmConfig, key_label: str, expected_public_key: bytes | None = None
    ) -> None:
        self.config = config
        self.key_label = key_label
        self._lock = threading.Lock()
        self._session: Any = None
        self._priv: Any = None
        self._generation = -1
        if expected_public_key is None and config.pins is not None:
            expected_public_key = pinned_key(config.pins, key_label)
        self._pin: bytes | None = (
            compress_point(expected_public_key) if expected_public_key is not None else None
        )
        if self._pin is None:
            log.warning("key %r on token %r has no pinned public key: pinning on first use",
                        key_label, config.token_label)

    @property
    def pinned_public_key(self) -> bytes | None:
        """The pinned key (``None`` until the first connection when nothing was pinned)."""
        return self._pin

    def _connect(self) -> None:
        """Open a session and check the key; callers hold the lock and ``using``."""
        session, priv = open_with_key(self.config, ObjectClass.PRIVATE_KEY, self.key_label)
        try:
            pub = _public_key(session, self.key_label)
        except Exception:
            session.close()
            raise
        if self._pin is not None and pub != self._pin:
            session.close()
            raise KeyMismatchError(
                f"token {self.config.token_label!r} key {self.key_label!r} is {pub.hex()}, "
                f"not the pinned {self._pin.hex()}"
            )
        self._pin = pub
        self._session, self._priv = session, priv
        self._generation = generation(self.config)

    def _drop(self) -> None:
        """Forget the session, closing it if it is still of the module's current generation
        and the token answers; callers hold the lock and ``using``."""
        if self._session is not None and self._generation == generation(self.config):
            try:
                self._session.close()
            except pkcs11.PKCS11Error:
                log.debug("closing a session on an unavailable token")
        self._session = None
        self._priv = None

    def _ensure_session(self) -> None:
        """Connect if there is no session or the module was reinitialised since (stale
        handles may name other objects now); callers hold the lock and ``using``."""
        if self._session is None or self._generation != generation(self.config):
            self._drop()
            self._connect()

    def _connect_or_reset(self, lost: Exception | None) -> None:
        """Open a fresh session; if the token itself is lost, reinitialise the module once.

        Callers hold the lock and ``using`` (reentrant, so the reinitialisation may run).
        """
        if lost is not None:
            log.warning("HSM session on %r lost (%s); reconnecting",
                        self.config.token_label, type(lost).__name__)
        self._drop()
        try:
            self._connect()
        except _NOT_TRANSIENT:
            raise
        except pkcs11.PKCS11Error:
            reset_module(self.config)
            self._connect()

    def _sign_reconnecting(self, digest: bytes) -> tuple[int, int]:
        with using(self.config):
            try:
                self._ensure_session()
                return _sign(self._priv, digest)
            except _NOT_TRANSIENT:
                raise
            except pkcs11.PKCS11Error as exc:
                self._connect_or_reset(exc)
                return _sign(self._priv, digest)

    def public_key(self) -> bytes:
        """The 33-byte compressed public key: the pinned one (connects only if none is)."""
        with self._lock:
            if self._pin is None:
                with using(self.config):
                    self._connect()
            assert self._pin is not None  # noqa: S101 - set by _connect
            return self._pin

    def check(self) -> None:
        """Reconnect and prove the token signs with the pinned key (a probe signature)."""
        with self._lock, using(self.config):
            self._connect_or_reset(None)
        self.sign_digest(os.urandom(32))

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        """Sign a 32-byte digest inside the token (CKM_ECDSA), low-s, verified against the pin."""
        if len(digest) != 32:
            raise ValueError("digest must be 32 bytes")
        with self._lock:
            r, s = self._sign_reconnecting(digest)
            assert self._pin is not None  # noqa: S101 - set by _connect
            if not verify_digest(self._pin, digest, r, s):
                with using(self.config):
                    self._drop()
                raise KeyMismatchError(
                    f"token {self.config.token_label!r} signed {self.key_label!r} with a key "
                    f"other than the pinned {self._pin.hex()}; signature withheld"
                )
        return r, s

    def private_key_handle(self) -> Any:
        """The PKCS#11 private key object (attributes readable only if the token allows)."""
        with self._lock, using(self.config):
            self._ensure_session()
            return self._priv

    def close(self) -> None:
        """Close the session (idempotent); errors from a dead token are swallowed."""
        with self._lock, using(self.config):
            self._drop()

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
        gcm = pkcs11.GCMParams(iv, aad)
        with using(self.config):
            session, key = open_with_key(self.config, ObjectClass.SECRET_KEY, self.key_label)
            with session:
                ct = key.encrypt(seed, mechanism=Mechanism.AES_GCM, mechanism_param=gcm)
        return iv + ct

    def unwrap(self, blob: bytes, aad: bytes = b"strongroom-seed") -> bytes:
        """Decrypt a wrapped seed inside the token; fails if the blob was altered."""
        gcm = pkcs11.GCMParams(blob[:12], aad)
        with using(self.config):
            session, key = open_with_key(self.config, ObjectClass.SECRET_KEY, self.key_label)
            with session:
                return bytes(key.decrypt(blob[12:], mechanism=Mechanism.AES_GCM,
                                         mechanism_param=gcm))
