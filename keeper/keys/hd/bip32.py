"""Minimal BIP32 over coincurve: fast public (watch-only) derivation, private for cosigners."""

from __future__ import annotations

import hashlib
import hmac
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


def parse_path(path: str) -> list[int]:
    """Parse ``m/48'/1'/0'/2'`` (``h`` accepted for hardened) into child numbers."""
    parts = [p for p in path.strip().split("/") if p and p != "m"]
    out = []
    for p in parts:
        hard = p[-1] in "'h"
        n = int(p[:-1] if hard else p)
        out.append(n + HARDENED if hard else n)
    return out


def format_path(indices: list[int], hardened_mark: str = "h") -> str:
    """Format child numbers as ``48h/1h/0h/2h`` (no leading ``m``)."""
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
        """Parse an ``xpub``/``tpub``; private keys are refused (watch-only)."""
        raw = base58.decode_check(text)
        if len(raw) != 78:
            raise ValueError("bad extended key length")
        version = raw[:4]
        for net, (pub_v, prv_v) in VERSIONS.items():
            if version == prv_v:
                raise ValueError("extended PRIVATE key given where only public keys are allowed")
            if version == pub_v:
                return cls(
                    key=raw[45:78],
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
