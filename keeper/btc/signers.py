"""Cosigners: an HD software cosigner (seed possibly HSM-wrapped) and the HSM cosigner."""

from __future__ import annotations

from bitcointx.core.psbt import PartiallySignedTransaction

from keeper.btc.psbt import sign_psbt
from keeper.keys.ecdsa import DigestSigner, SoftwareSigner
from keeper.keys.hd.bip32 import ExtendedPrivateKey


class HdCosigner:
    """Signs the inputs whose PSBT key origins carry this cosigner's master fingerprint.

    Keys are derived from the PSBT's BIP32 derivation paths; a derived key is used only if
    its public key matches the one in the PSBT (a lying path cannot make us sign).
    """

    def __init__(self, master: ExtendedPrivateKey) -> None:
        self._master = master
        self.fingerprint = master.fingerprint()
        self._cache: dict[tuple[int, ...], ExtendedPrivateKey] = {}

    @classmethod
    def from_wrapped_seed(cls, unwrap: object, blob: bytes, network: str = "test") -> HdCosigner:
        """Open an HSM-wrapped seed (``unwrap(blob) -> seed``) into a cosigner in memory."""
        seed = unwrap(blob)  # type: ignore[operator]
        return cls(ExtendedPrivateKey.from_seed(seed, network))

    def _derive(self, path: tuple[int, ...]) -> ExtendedPrivateKey:
        if path in self._cache:
            return self._cache[path]
        parent = self._derive(path[:-1]) if path else None
        node = self._master if parent is None else parent.child(path[-1])
        if len(path) <= 5:  # cache account and branch levels only
            self._cache[path] = node
        return node

    def signers_for(self, psbt: PartiallySignedTransaction) -> dict[bytes, DigestSigner]:
        """Map pubkey -> signer for every key of ours referenced by the PSBT inputs."""
        out: dict[bytes, DigestSigner] = {}
        for inp in psbt.inputs:
            for pub, info in inp.derivation_map.items():
                if info.master_fp != self.fingerprint or bytes(pub) in out:
                    continue
                node = self._derive(tuple(info.path))
                signer = SoftwareSigner(node.secret)
                if signer.public_key() == bytes(pub):
                    out[bytes(pub)] = signer
        return out

    def sign(self, psbt: PartiallySignedTransaction) -> int:
        """Sign in place; returns the number of signatures added."""
        return sign_psbt(psbt, self.signers_for(psbt))


class KeyCosigner:
    """A cosigner holding one fixed key (typically ``HsmSigner`` / ``FailoverSigner``)."""

    def __init__(self, signer: DigestSigner) -> None:
        self.signer = signer

    def sign(self, psbt: PartiallySignedTransaction) -> int:
        """Sign in place; returns the number of signatures added."""
        return sign_psbt(psbt, self.signer)
