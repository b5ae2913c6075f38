"""Cosigners: an HD software cosigner (seed possibly HSM-wrapped) and the HSM cosigner.

Each cosigner is configured with the descriptor of the wallet it cosigns for. It reviews a PSBT
(amounts proven by previous transactions, change re-derived from that descriptor), refuses a fee
above its ceiling, and signs only the inputs whose script re-derives from that descriptor, with
the key that descriptor names at that position: a PSBT's claimed paths choose nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from bitcointx.core.psbt import PartiallySignedTransaction

from keeper.btc.descriptor import MultisigDescriptor
from keeper.btc.network import bitcoin_classes
from keeper.btc.psbt import PsbtError, PsbtSummary, sign_psbt
from keeper.btc.wallet import summarize
from keeper.keys.ecdsa import DigestSigner, SoftwareSigner
from keeper.keys.hd.bip32 import ExtendedPrivateKey


class FeeTooHighError(PsbtError):
    """The PSBT pays more fee than this cosigner's ceiling."""


class _DescriptorCosigner:
    """Review-then-sign logic shared by both cosigner kinds (one home for the policy)."""

    def __init__(self, descriptor: MultisigDescriptor, max_fee: int | None = None) -> None:
        if max_fee is not None and (not isinstance(max_fee, int) or max_fee < 0):
            raise ValueError("max_fee is a non-negative integer number of satoshis")
        self.descriptor = descriptor
        self.max_fee = max_fee

    @bitcoin_classes
    def review(self, psbt: PartiallySignedTransaction) -> PsbtSummary:
        """What the PSBT spends and pays, as this cosigner verifies it."""
        return summarize(psbt, self.descriptor)

    def _signers_at(self, branch: int, index: int) -> Mapping[bytes, DigestSigner]:
        raise NotImplementedError

    @bitcoin_classes
    def sign(self, psbt: PartiallySignedTransaction) -> int:
        """Review, enforce the fee ceiling, sign our inputs in place; returns signatures added.

        Raises ``PsbtError`` (``FeeTooHighError``, ``UnverifiableInputError``, ...) and then
        adds nothing.
        """
        summary = self.review(psbt)
        if self.max_fee is not None and summary.fee > self.max_fee:
            raise FeeTooHighError(f"fee {summary.fee} sat exceeds the ceiling {self.max_fee}")
        added = 0
        for i, line in enumerate(summary.inputs):
            if line.owned is not None:
                added += sign_psbt(psbt, self._signers_at(*line.owned), inputs=(i,))
        return added


class HdCosigner(_DescriptorCosigner):
    """Signs with the key the descriptor assigns to this master fingerprint at each input's
    (branch, index); the derived public key must equal the descriptor's, else nothing is signed.
    """

    def __init__(self, master: ExtendedPrivateKey, descriptor: MultisigDescriptor,
                 max_fee: int | None = None) -> None:
        super().__init__(descriptor, max_fee)
        self._master = master
        self.fingerprint = master.fingerprint()
        self._cache: dict[tuple[int, ...], ExtendedPrivateKey] = {}

    @classmethod
    def from_wrapped_seed(cls, unwrap: object, blob: bytes, descriptor: MultisigDescriptor,
                          network: str = "test", max_fee: int | None = None) -> HdCosigner:
        """Open an HSM-wrapped seed (``unwrap(blob) -> seed``) into a cosigner in memory."""
        seed = unwrap(blob)  # type: ignore[operator]
        return cls(ExtendedPrivateKey.from_seed(seed, network), descriptor, max_fee)

    def _derive(self, path: tuple[int, ...]) -> ExtendedPrivateKey:
        if path in self._cache:
            return self._cache[path]
        parent = self._derive(path[:-1]) if path else None
        node = self._master if parent is None else parent.child(path[-1])
        if len(path) <= 5:  # cache account and branch levels only
            self._cache[path] = node
        return node

    def _signers_at(self, branch: int, index: int) -> dict[bytes, DigestSigner]:
        out: dict[bytes, DigestSigner] = {}
        for pub, fp, path in self.descriptor.child_keys(branch, index):
            if fp != self.fingerprint:
                continue
            signer = SoftwareSigner(self._derive(tuple(path)).secret)
            if signer.public_key() == pub:
                out[pub] = signer
        return out


class KeyCosigner(_DescriptorCosigner):
    """A cosigner holding one fixed key (typically ``HsmSigner`` / ``FailoverSigner``); it signs
    only where the descriptor places that very key."""

    def __init__(self, signer: DigestSigner, descriptor: MultisigDescriptor,
                 max_fee: int | None = None) -> None:
        super().__init__(descriptor, max_fee)
        self.signer = signer
        self._pub = signer.public_key()

    def _signers_at(self, branch: int, index: int) -> Mapping[bytes, DigestSigner]:
        keys = {pub for pub, _, _ in self.descriptor.child_keys(branch, index)}
        return {self._pub: self.signer} if self._pub in keys else {}
