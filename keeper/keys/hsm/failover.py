"""Primary/backup HSM failover for signing, always with the one pinned key."""

from __future__ import annotations

import logging
import threading

import pkcs11

from keeper.keys.hsm.errors import HsmUnavailableError, KeyMismatchError
from keeper.keys.hsm.signer import HsmSigner

log = logging.getLogger(__name__)

__all__ = ["FailoverSigner", "HsmUnavailableError", "KeyMismatchError"]


class FailoverSigner:
    """Signs on the primary token; when it fails, switches to the backup and retries.

    Both signers must pin the same public key (``ValueError`` otherwise, or if neither has
    one): the pin is the key this signer stands for, whichever token is up. Each signer
    verifies every signature against it, and before switching the backup must prove, by a
    probe signature, that it holds that key; a backup with another key is refused with
    ``KeyMismatchError`` (never retried elsewhere). The operation that hit the failure is
    retried on the backup, so no pending signature is lost. Once switched, the signer stays
    on the backup until an operator calls ``reset_to_primary``, which re-checks the primary.
    """

    def __init__(self, primary: HsmSigner, backup: HsmSigner) -> None:
        pins = {primary.pinned_public_key, backup.pinned_public_key}
        if None in pins or len(pins) != 1:
            raise ValueError("primary and backup need the same pinned public key")
        self._pub: bytes = primary.pinned_public_key  # type: ignore[assignment]
        self._signers = (primary, backup)
        self._active = 0
        self._lock = threading.Lock()
        self.failovers = 0

    @property
    def active(self) -> str:
        """``"primary"`` or ``"backup"``."""
        return "primary" if self._active == 0 else "backup"

    def public_key(self) -> bytes:
        """The pinned compressed public key (the same on both tokens)."""
        return self._pub

    def _switch(self, failed: HsmSigner, exc: Exception) -> HsmSigner:
        with self._lock:
            if self._signers[self._active] is not failed:  # another thread switched already
                return self._signers[self._active]
            if self._active == 1:
                raise HsmUnavailableError("backup HSM failed too") from exc
            log.warning(
                "primary HSM %r failed (%s); failing over to backup",
                failed.config.token_label,
                type(exc).__name__,
            )
            failed.close()
            backup = self._signers[1]
            try:
                backup.check()
            except pkcs11.PKCS11Error as backup_exc:
                raise HsmUnavailableError("primary and backup HSM both failed") from backup_exc
            self._active = 1
            self.failovers += 1
            return backup

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        """Sign on the active token; on a PKCS#11 failure of the primary, retry on the backup.

        ``KeyMismatchError`` (a token with another key) is raised as is: no failover.
        """
        signer = self._signers[self._active]
        try:
            return signer.sign_digest(digest)
        except pkcs11.PKCS11Error as exc:
            if signer is self._signers[1]:
                raise HsmUnavailableError("backup HSM failed") from exc
            return self._switch(signer, exc).sign_digest(digest)

    def reset_to_primary(self) -> None:
        """Operator action once the primary is restored: re-check its key, then switch back.

        Raises (and stays on the backup) when the primary is unreachable
        (``pkcs11.PKCS11Error``) or holds another key (``KeyMismatchError``).
        """
        with self._lock:
            self._signers[0].check()
            self._active = 0
            log.info("back on primary HSM %r", self._signers[0].config.token_label)

    def close(self) -> None:
        """Close the sessions on both tokens (idempotent)."""
        for signer in self._signers:
            signer.close()
