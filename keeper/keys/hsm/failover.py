"""Primary/backup HSM failover for signing."""

from __future__ import annotations

import logging
import threading

import pkcs11

from keeper.keys.hsm.signer import HsmSigner

log = logging.getLogger(__name__)


class HsmUnavailableError(RuntimeError):
    """Neither the primary nor the backup token could perform the operation."""


class FailoverSigner:
    """Signs on the primary token; when it fails, switches to the backup and retries.

    The operation that hit the failure is retried on the backup, so no pending signature
    is lost. The backup must hold the same key (checked by public key on switch-over),
    so no key is lost either. Once switched, the signer stays on the backup until
    ``reset_to_primary`` is called by an operator.
    """

    def __init__(self, primary: HsmSigner, backup: HsmSigner) -> None:
        self._signers = [primary, backup]
        self._active = 0
        self._pub: bytes | None = None
        self._lock = threading.Lock()
        self.failovers = 0

    @property
    def active(self) -> str:
        """``"primary"`` or ``"backup"``."""
        return "primary" if self._active == 0 else "backup"

    def _switch(self, exc: Exception) -> HsmSigner:
        with self._lock:
            if self._active == 1:
                raise HsmUnavailableError("backup HSM failed too") from exc
            log.warning(
                "primary HSM %r failed (%s); failing over to backup",
                self._signers[0].config.token_label,
                type(exc).__name__,
            )
            self._signers[0].close()
            backup = self._signers[1]
            if self._pub is not None and backup.public_key() != self._pub:
                raise HsmUnavailableError("backup token holds a different key; refusing")
            self._active = 1
            self.failovers += 1
            return backup

    def public_key(self) -> bytes:
        """The key's compressed public key (the same on both tokens)."""
        if self._pub is None:
            try:
                self._pub = self._signers[self._active].public_key()
            except pkcs11.PKCS11Error as exc:
                self._pub = self._switch(exc).public_key()
        return self._pub

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        """Sign on the active token; on a PKCS#11 failure of the primary, retry on backup."""
        self.public_key()
        signer = self._signers[self._active]
        try:
            return signer.sign_digest(digest)
        except pkcs11.PKCS11Error as exc:
            if signer is self._signers[1]:
                raise HsmUnavailableError("backup HSM failed") from exc
            return self._switch(exc).sign_digest(digest)

    def reset_to_primary(self) -> None:
        """Operator action once the primary is restored."""
        with self._lock:
            self._signers[0].close()
            self._active = 0
