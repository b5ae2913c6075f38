"""The keeper's one way to sign: by key label, always checked against the pinned key.

``Keyring`` holds one signer per key label (an HSM key, with or without a backup token) and
the public key pinned for each label at enrolment. Every signature it returns has been
verified against that pinned key; Ethereum results are also decoded and recovered by
eth_account / eth_keys, so an encoding slip cannot release a transaction from another sender.

    ring = Keyring.from_hsm(primary_config, backup=backup_config)
    raw_tx = ring.sign_eip1559("eth-hot", tx)           # raw EIP-1559 transaction bytes
    sig65 = ring.sign_eip712_hash("safe-signer", h)     # r || s || v (27/28)
    der = ring.sign_btc_sighash("btc-cosigner", sighash)  # strict DER, low-s
    KeyCosigner(ring.signer("btc-cosigner"), descriptor)  # a verifying DigestSigner
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from eth_account import Account
from eth_keys import keys as eth_keys

from keeper.keys.ecdsa import DigestSigner, compress_point, der_encode, eth_address, verify_digest
from keeper.keys.eth import sign_eip1559, sign_hash
from keeper.keys.hsm.errors import KeyMismatchError

if TYPE_CHECKING:
    from keeper.keys.hsm.config import HsmConfig


class PinnedSigner:
    """A ``DigestSigner`` that releases only signatures that verify against ``pinned``."""

    def __init__(self, label: str, signer: DigestSigner, pinned: bytes) -> None:
        self.label = label
        self._signer = signer
        self._pinned = compress_point(pinned)
        if compress_point(signer.public_key()) != self._pinned:
            raise KeyMismatchError(f"signer for {label!r} does not hold the pinned key")

    def public_key(self) -> bytes:
        """The pinned compressed public key."""
        return self._pinned

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        """Sign and verify against the pinned key; ``KeyMismatchError`` withholds a bad one."""
        r, s = self._signer.sign_digest(digest)
        if not verify_digest(self._pinned, digest, r, s):
            raise KeyMismatchError(
                f"signature for {self.label!r} does not verify against the pinned key; withheld"
            )
        return r, s

    def close(self) -> None:
        """Close the underlying signer's sessions, if it has any."""
        close = getattr(self._signer, "close", None)
        if close is not None:
            close()


class Keyring:
    """Signers by key label, each bound to its pinned public key (see the module docstring)."""

    def __init__(self, signers: Mapping[str, DigestSigner], pins: Mapping[str, bytes]) -> None:
        missing = set(signers) - set(pins)
        if missing:
            raise LookupError(f"no pinned public key for {sorted(missing)}")
        self._signers = {
            label: PinnedSigner(label, signer, pins[label]) for label, signer in signers.items()
        }

    @classmethod
    def from_hsm(
        cls,
        primary: HsmConfig,
        backup: HsmConfig | None = None,
        labels: tuple[str, ...] | None = None,
    ) -> Keyring:
        """Every label of ``primary.pins`` (or ``labels``) on ``primary``, failing over to
        ``backup``; the backup is always checked against the primary's pin record."""
        from keeper.keys.hsm import FailoverSigner, HsmSigner, load_pins

        if primary.pins is None:
            raise ValueError("the primary HsmConfig has no pin record (HsmConfig.pins)")
        pins = load_pins(primary.pins)
        signers: dict[str, DigestSigner] = {}
        for label in labels if labels is not None else tuple(pins):
            first = HsmSigner(primary, label)
            signers[label] = first if backup is None else FailoverSigner(
                first, HsmSigner(replace(backup, pins=primary.pins), label)
            )
        return cls(signers, pins)

    @property
    def labels(self) -> tuple[str, ...]:
        """The key labels this keyring signs with."""
        return tuple(self._signers)

    def signer(self, label: str) -> PinnedSigner:
        """The verifying ``DigestSigner`` of ``label`` (e.g. for a BTC ``KeyCosigner``)."""
        try:
            return self._signers[label]
        except KeyError:
            raise LookupError(f"no key labelled {label!r}") from None

    def public_key(self, label: str) -> bytes:
        """The pinned compressed public key of ``label``."""
        return self.signer(label).public_key()

    def eth_address(self, label: str) -> str:
        """Checksummed Ethereum address of ``label``'s pinned key."""
        return eth_address(self.public_key(label))

    def sign_eip1559(self, label: str, tx: dict[str, Any]) -> bytes:
        """Raw signed EIP-1559 transaction (see ``keeper.keys.eth.sign_eip1559``), whose
        recovered sender is checked to be ``label``'s pinned address."""
        raw = sign_eip1559(self.signer(label), tx)
        if Account.recover_transaction(raw) != self.eth_address(label):
            raise KeyMismatchError(f"transaction signed for {label!r} recovers to another sender")
        return raw

    def sign_eip712_hash(self, label: str, digest: bytes) -> bytes:
        """65-byte ``r || s || v`` (``v`` 27/28) over an EIP-712 (or Safe) hash, recovery-checked."""
        sig = sign_hash(self.signer(label), digest)
        vrs = (sig[64] - 27, int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"))
        recovered = eth_keys.Signature(vrs=vrs).recover_public_key_from_msg_hash(digest)
        if recovered.to_checksum_address() != self.eth_address(label):
            raise KeyMismatchError(f"signature for {label!r} recovers to another address")
        return sig

    def sign_btc_sighash(self, label: str, sighash: bytes) -> bytes:
        """Strict-DER low-s signature of a 32-byte BTC sighash (append the sighash type byte)."""
        return der_encode(*self.signer(label).sign_digest(sighash))

    def close(self) -> None:
        """Close every HSM session this keyring opened."""
        for signer in self._signers.values():
            signer.close()
