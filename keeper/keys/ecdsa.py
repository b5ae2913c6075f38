"""secp256k1 ECDSA helpers shared by every signer: low-s, DER, recovery, ETH addresses."""

from __future__ import annotations

from typing import Protocol

import coincurve
from eth_utils import keccak, to_checksum_address

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_N = SECP256K1_N // 2


class DigestSigner(Protocol):
    """Anything that signs a 32-byte digest with one secp256k1 key (HSM or software)."""

    def public_key(self) -> bytes:
        """The 33-byte compressed SEC1 public key."""
        ...

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        """Sign ``digest`` and return ``(r, s)`` with ``s`` normalised to the low half."""
        ...


def normalize_s(r: int, s: int) -> tuple[int, int]:
    """Return ``(r, s)`` with ``s <= n/2`` (BIP62 / EIP-2 low-s rule)."""
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        raise ValueError("signature component out of range")
    return (r, SECP256K1_N - s) if s > SECP256K1_HALF_N else (r, s)


def split_raw(sig: bytes) -> tuple[int, int]:
    """Split a raw PKCS#11 ``CKM_ECDSA`` signature ``r || s`` (64 bytes) into integers."""
    if len(sig) != 64:
        raise ValueError(f"expected 64-byte r||s, got {len(sig)}")
    return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")


def _der_int(x: int) -> bytes:
    b = x.to_bytes((x.bit_length() + 7) // 8 or 1, "big")
    if b[0] & 0x80:
        b = b"\x00" + b
    return b"\x02" + bytes([len(b)]) + b


def der_encode(r: int, s: int) -> bytes:
    """Strict DER encoding of an ECDSA signature (as Bitcoin requires, BIP66)."""
    body = _der_int(r) + _der_int(s)
    return b"\x30" + bytes([len(body)]) + body


def verify_digest(pubkey: bytes, digest: bytes, r: int, s: int) -> bool:
    """True when ``(r, s)`` is a valid low-s signature of ``digest`` by ``pubkey``."""
    try:
        return coincurve.PublicKey(pubkey).verify(der_encode(r, s), digest, hasher=None)
    except (ValueError, TypeError):
        return False


def compress_point(point: bytes) -> bytes:
    """Compress an SEC1 point; accepts a DER OCTET STRING wrapper as PKCS#11 returns it."""
    if len(point) == 67 and point[0] == 0x04 and point[1] == 0x41:
        point = point[2:]
    return coincurve.PublicKey(point).format(compressed=True)


def recovery_id(digest: bytes, r: int, s: int, pubkey: bytes) -> int:
    """Find the recovery id (0/1) for which ``(r, s)`` recovers to ``pubkey``."""
    want = coincurve.PublicKey(pubkey).format(compressed=True)
    for v in (0, 1):
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])
        try:
            got = coincurve.PublicKey.from_signature_and_message(sig, digest, hasher=None)
        except Exception:  # noqa: BLE001, S112 - invalid candidate, try the other id
            continue
        if got.format(compressed=True) == want:
            return v
    raise ValueError("signature does not recover to the signer's public key")


def eth_address(pubkey: bytes) -> str:
    """EIP-55 checksummed Ethereum address of a secp256k1 public key."""
    raw = coincurve.PublicKey(pubkey).format(compressed=False)[1:]
    return to_checksum_address(keccak(raw)[-20:])


def sign_recoverable(signer: DigestSigner, digest: bytes) -> tuple[int, int, int]:
    """Sign ``digest`` and return ``(v, r, s)`` with ``v`` the recovery id (0/1), low-s."""
    r, s = signer.sign_digest(digest)
    return recovery_id(digest, r, s, signer.public_key()), r, s


class SoftwareSigner:
    """In-memory coincurve signer: for cosigner software keys, tests and bench baselines."""

    def __init__(self, secret: bytes) -> None:
        self._key = coincurve.PrivateKey(secret)

    def public_key(self) -> bytes:
        """The 33-byte compressed public key."""
        return self._key.public_key.format(compressed=True)

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        """Deterministic (RFC6979) low-s signature of a 32-byte digest."""
        rec = self._key.sign_recoverable(digest, hasher=None)
        return normalize_s(int.from_bytes(rec[:32], "big"), int.from_bytes(rec[32:64], "big"))
