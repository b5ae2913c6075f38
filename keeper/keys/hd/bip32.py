"""Minimal BIP32 over coincurve: fast public (watch-only) derivation, private for cosigners."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

import coincurve
from embit import base58

from keeper.keys.ecdsa import SECP256K1_N

HARDENED = 0x80000000
#: version bytes (xpub, xprv) per network kind.
VERSIONS = {
    "main": (bytes.fromhex("0488b21e"), bytes.fromhex("0488ade4")),
    "test": (bytes.fromhex("043587cf"), bytes.fromhex("04358394")),
}


def hash160(data: bytes) -> bytes:
    """RIPEMD160(SHA256(data))."""
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


#: One path segment: a decimal index without sign, spaces, underscores or leading zeros
#: (ASCII digits only), optionally followed by one hardened marker (``h``, ``H`` or ``'``).
_SEGMENT = re.compile(r"(0|[1-9][0-9]{0,9})([hH']?)", re.ASCII)
#: BIP32 serialises the depth in one byte.
MAX_DEPTH = 255


def parse_path(path: str) -> list[int]:
    """Parse a BIP32 path into child numbers; ``ValueError`` for anything not exactly one path.

    Accepted: ``m`` (the master), ``m/48h/1h/0h/2h``, relative ``48h/1h`` and a descriptor
    key-origin fragment ``/48'/1'`` (as it follows a fingerprint). Hardened markers ``h``,
    ``H`` and ``'`` are equivalent. Every index must be below 2^31 (hardened or not): an
    unhardened ``2147483648`` is refused, never read as ``0h``. Refused as ambiguous or
    malformed: the empty string, empty segments, whitespace, signs, underscores, non-ASCII
    digits, leading zeros, doubled markers, ``m`` anywhere but at the start, more than 255
    levels.
    """
    if not isinstance(path, str):
        raise ValueError(f"derivation path must be a string, not {type(path).__name__}")
    if path == "m":
        return []
    if path.startswith("m/"):
        body = path[2:]
    elif path.startswith("/"):
        body = path[1:]
    else:
        body = path
    parts = body.split("/")
    if len(parts) > MAX_DEPTH:
        raise ValueError(f"derivation path deeper than {MAX_DEPTH} levels")
    out = []
    for part in parts:
        seg = _SEGMENT.fullmatch(part)
        if seg is None:
            raise ValueError(f"invalid derivation path segment {part!r} in {path!r}")
        n = int(seg.group(1))
        if n >= HARDENED:
            raise ValueError(
                f"derivation path index {n} in {path!r} is not below 2^31 "
                "(write hardened indexes as <n>h with n < 2^31)"
            )
        out.append(n + HARDENED if seg.group(2) else n)
    return out


def _check_index(index: int) -> None:
    if not 0 <= index < 2**32:
        raise ValueError(f"child index {index} is outside 0..2^32-1")


def format_path(indices: list[int], hardened_mark: str = "h") -> str:
    """Format child numbers as ``48h/1h/0h/2h`` (no leading ``m``)."""
    for i in indices:
        if not 0 <= i < 2**32:
            raise ValueError(f"derivation path index {i} is outside 0..2^32-1")
    return "/".join(
        f"{i - HARDENED}{hardened_mark}" if i >= HARDENED else str(i) for i in indices
    )


@dataclass(frozen=True)
class ExtendedPublicKey:
    """A BIP32 extended public key (watch-only)."""

    key: bytes  # 33-byte compressed
    chain_code: bytes
    depth: int = 0
    parent_fingerprint: bytes = b"\x00" * 4
    child_number: int = 0
    network: str = "test"

    @classmethod
    def parse(cls, text: str) -> ExtendedPublicKey:
        """Parse an ``xpub``/``tpub``; private keys are refused (watch-only).

        Also refused (``ValueError``), as in BIP32 test vector 5: a public key that is not a
        compressed secp256k1 point, and depth 0 with a parent fingerprint or child index.
        """
        raw = base58.decode_check(text)
        if len(raw) != 78:
            raise ValueError("bad extended key length")
        version = raw[:4]
        for net, (pub_v, prv_v) in VERSIONS.items():
            if version == prv_v:
                raise ValueError("extended PRIVATE key given where only public keys are allowed")
            if version == pub_v:
                key = raw[45:78]
                if key[0] not in (2, 3):
                    raise ValueError("extended key holds no compressed public key")
                try:
                    coincurve.PublicKey(key)
                except ValueError:
                    raise ValueError("extended key's public key is not on secp256k1") from None
                if raw[4] == 0 and (raw[5:9] != b"\x00" * 4 or raw[9:13] != b"\x00" * 4):
                    raise ValueError("depth 0 extended key with a parent fingerprint or index")
                return cls(
                    key=key,
                    chain_code=raw[13:45],
                    depth=raw[4],
                    parent_fingerprint=raw[5:9],
                    child_number=int.from_bytes(raw[9:13], "big"),
                    network=net,
                )
        raise ValueError("unknown extended key version (only xpub/tpub accepted)")

    def serialize(self) -> str:
        """Base58check ``xpub``/``tpub`` string."""
        raw = (
            VERSIONS[self.network][0]
            + bytes([self.depth])
            + self.parent_fingerprint
            + self.child_number.to_bytes(4, "big")
            + self.chain_code
            + self.key
        )
        return base58.encode_check(raw)

    def fingerprint(self) -> bytes:
        """First 4 bytes of HASH160(pubkey)."""
        return hash160(self.key)[:4]

    def child(self, index: int) -> ExtendedPublicKey:
        """CKDpub: non-hardened child (public-key-only math)."""
        _check_index(index)
        if index >= HARDENED:
            raise ValueError("cannot derive a hardened child from a public key")
        i64 = hmac.digest(self.chain_code, self.key + index.to_bytes(4, "big"), "sha512")
        il = i64[:32]
        if int.from_bytes(il, "big") >= SECP256K1_N:
            raise ValueError("invalid child (IL >= n); skip this index")
        key = coincurve.PublicKey(self.key).add(il).format(compressed=True)
        return ExtendedPublicKey(
            key, i64[32:], self.depth + 1, self.fingerprint(), index, self.network
        )

    def derive(self, indices: list[int]) -> ExtendedPublicKey:
        """Derive a non-hardened path."""
        node = self
        for i in indices:
            node = node.child(i)
        return node


@dataclass(frozen=True)
class ExtendedPrivateKey:
    """A BIP32 extended private key: for cosigners only, never held by the coordinator."""

    secret: bytes
    chain_code: bytes
    depth: int = 0
    parent_fingerprint: bytes = b"\x00" * 4
    child_number: int = 0
    network: str = "test"

    @classmethod
    def from_seed(cls, seed: bytes, network: str = "test") -> ExtendedPrivateKey:
        """BIP32 master key from a seed."""
        i64 = hmac.digest(b"Bitcoin seed", seed, "sha512")
        return cls(i64[:32], i64[32:], network=network)

    def public(self) -> ExtendedPublicKey:
        """The matching extended public key."""
        return ExtendedPublicKey(
            coincurve.PrivateKey(self.secret).public_key.format(compressed=True),
            self.chain_code,
            self.depth,
            self.parent_fingerprint,
            self.child_number,
            self.network,
        )

    def fingerprint(self) -> bytes:
        """Fingerprint of this node's public key."""
        return self.public().fingerprint()

    def child(self, index: int) -> ExtendedPrivateKey:
        """CKDpriv."""
        _check_index(index)
        pub = coincurve.PrivateKey(self.secret).public_key.format(compressed=True)
        data = (b"\x00" + self.secret if index >= HARDENED else pub) + index.to_bytes(4, "big")
        i64 = hmac.digest(self.chain_code, data, "sha512")
        k = (int.from_bytes(i64[:32], "big") + int.from_bytes(self.secret, "big")) % SECP256K1_N
        if k == 0 or int.from_bytes(i64[:32], "big") >= SECP256K1_N:
            raise ValueError("invalid child; skip this index")
        return ExtendedPrivateKey(
            k.to_bytes(32, "big"), i64[32:], self.depth + 1, hash160(pub)[:4], index, self.network
        )

    def derive(self, path: str | list[int]) -> ExtendedPrivateKey:
        """Derive a path (string or child numbers)."""
        node = self
        for i in parse_path(path) if isinstance(path, str) else path:
            node = node.child(i)
        return node

    def serialize(self) -> str:
        """Base58check ``xprv``/``tprv`` string (for cosigner devices only)."""
        raw = (
            VERSIONS[self.network][1]
            + bytes([self.depth])
            + self.parent_fingerprint
            + self.child_number.to_bytes(4, "big")
            + self.chain_code
            + b"\x00"
            + self.secret
        )
        return base58.encode_check(raw)

    def __repr__(self) -> str:
        return f"ExtendedPrivateKey(fingerprint={self.fingerprint().hex()}, depth={self.depth})"
