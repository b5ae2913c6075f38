"""P2WSH ``sortedmulti`` output descriptors with key origins and BIP380 checksums."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import coincurve
from bitcointx.core.script import OP_CHECKMULTISIG, CScript
from bitcointx.segwit_addr import encode as segwit_encode

from keeper.btc.network import Network
from keeper.keys.hd.bip32 import (
    HARDENED,
    ExtendedPublicKey,
    format_path,
    hash160,
    parse_path,
)

_INPUT_CHARSET = (
    "0123456789()[],'/*abcdefgh@:$%{}"
    "IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~"
    "ijklmnopqrstuvwxyzABCDEFGH`#\"\\ "
)
_CHECKSUM_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(c: int, val: int) -> int:
    c0 = c >> 35
    c = ((c & 0x7FFFFFFFF) << 5) ^ val
    for bit, gen in enumerate(
        (0xF5DEE51989, 0xA9FDCA3312, 0x1BAB10E32D, 0x3706B1677A, 0x644D626FFD)
    ):
        if c0 & (1 << bit):
            c ^= gen
    return c


def descriptor_checksum(desc: str) -> str:
    """BIP380 checksum (8 characters) of a descriptor without its ``#`` suffix."""
    c, cls, clscount = 1, 0, 0
    for ch in desc:
        pos = _INPUT_CHARSET.find(ch)
        if pos == -1:
            raise ValueError(f"invalid descriptor character {ch!r}")
        c = _polymod(c, pos & 31)
        cls = cls * 3 + (pos >> 5)
        clscount += 1
        if clscount == 3:
            c = _polymod(c, cls)
            cls, clscount = 0, 0
    if clscount:
        c = _polymod(c, cls)
    for _ in range(8):
        c = _polymod(c, 0)
    c ^= 1
    return "".join(_CHECKSUM_CHARSET[(c >> (5 * (7 - j))) & 31] for j in range(8))


def add_checksum(desc: str) -> str:
    """``desc#checksum``."""
    return f"{desc}#{descriptor_checksum(desc)}"


def strip_checksum(text: str) -> str:
    """Verify and drop a ``#checksum`` suffix (a missing checksum is accepted)."""
    if "#" not in text:
        return text
    desc, chk = text.rsplit("#", 1)
    if descriptor_checksum(desc) != chk:
        raise ValueError("descriptor checksum mismatch")
    return desc


@dataclass(frozen=True)
class DescriptorKey:
    """One cosigner key: ranged xpub (BIP48) or a fixed public key (e.g. held in an HSM)."""

    fingerprint: bytes
    origin: tuple[int, ...]
    xpub: ExtendedPublicKey | None = None
    pubkey: bytes | None = None

    def __post_init__(self) -> None:
        if self.pubkey is not None and not is_compressed_point(self.pubkey):
            raise ValueError("a fixed key must be a 33-byte compressed secp256k1 public key "
                             "(anything else gives addresses whose coins cannot be spent)")

    def text(self, branch: int) -> str:
        """Descriptor form: ``[fp/48h/1h/0h/2h]tpub.../<branch>/*`` or ``[fp]02ab...``."""
        org = "/".join([self.fingerprint.hex(), *([format_path(list(self.origin), "'")] if
                                                 self.origin else [])])
        if self.xpub is not None:
            return f"[{org}]{self.xpub.serialize()}/{branch}/*"
        assert self.pubkey is not None  # noqa: S101 - one of the two is set
        return f"[{org}]{self.pubkey.hex()}"

    def derive(self, branch: int, index: int) -> tuple[bytes, tuple[int, ...]]:
        """Child public key and its full path from the origin fingerprint."""
        if self.xpub is None:
            assert self.pubkey is not None  # noqa: S101
            return self.pubkey, self.origin
        return self.xpub.child(branch).child(index).key, (*self.origin, branch, index)


# re.ASCII: a bare \d also matches other scripts' digits, which int() then reads ("\u0662" -> 2)
_KEY_RE = re.compile(r"^\[([0-9a-fA-F]{8})((?:/\d+['h]?)*)\]([^/]+)((?:/\d+)*)(/\*)?$", re.ASCII)
_HEX_KEY_RE = re.compile(r"[0-9a-fA-F]{66}", re.ASCII)
_SORTEDMULTI_RE = re.compile(r"wsh\(sortedmulti\((\d+),(.*)\)\)", re.ASCII)


def is_compressed_point(pubkey: bytes) -> bool:
    """True for a 33-byte compressed SEC1 point on secp256k1 (the only key P2WSH may hold:
    uncompressed keys are non-standard in witness scripts)."""
    if len(pubkey) != 33 or pubkey[0] not in (2, 3):
        return False
    try:
        coincurve.PublicKey(pubkey)
    except ValueError:
        return False
    return True


def parse_key(text: str) -> tuple[DescriptorKey, int | None]:
    """Parse one key expression; returns the key and its branch (None for fixed keys)."""
    m = _KEY_RE.match(text.strip())
    if not m:
        raise ValueError(f"key expression needs an origin [fingerprint/path]: {text!r}")
    fp, path, body, suffix, star = m.groups()
    origin = tuple(parse_path(path)) if path else ()
    if body[:4] in ("xpub", "tpub"):
        steps = parse_path(suffix) if suffix else []
        if not star or len(steps) != 1:
            raise ValueError("ranged keys must end in /<branch>/*")
        return DescriptorKey(bytes.fromhex(fp), origin, ExtendedPublicKey.parse(body)), steps[0]
    if body[:4] in ("xprv", "tprv"):
        raise ValueError("private keys never go in a coordinator descriptor")
    if not _HEX_KEY_RE.fullmatch(body):  # bytes.fromhex alone would skip whitespace
        raise ValueError(f"fixed key is not 66 hex digits: {body!r}")
    return DescriptorKey(bytes.fromhex(fp), origin, pubkey=bytes.fromhex(body)), None


@dataclass(frozen=True)
class MultisigDescriptor:
    """``wsh(sortedmulti(m, k1, ..., kn))`` with receive (0) and change (1) branches."""

    threshold: int
    keys: tuple[DescriptorKey, ...]
    network: Network
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.threshold <= len(self.keys) <= 15:
            raise ValueError("need 1 <= m <= n <= 15")
        for k in self.keys:
            if k.xpub is not None and k.xpub.network != self.network.key_kind:
                raise ValueError("extended key version does not match the network")
        if len({k.xpub.serialize() if k.xpub else k.pubkey for k in self.keys}) != len(self.keys):
            raise ValueError("a cosigner key is listed twice: its holder would supply two of the "
                             "m signatures")

    def to_string(self, branch: int = 0) -> str:
        """Descriptor with checksum for ``branch`` (0 receive, 1 change)."""
        body = ",".join(k.text(branch) for k in self.keys)
        return add_checksum(f"wsh(sortedmulti({self.threshold},{body}))")

    @classmethod
    def parse(cls, text: str, network: Network) -> tuple[MultisigDescriptor, int]:
        """Parse a descriptor string; returns it and the branch its ranged keys use."""
        desc = strip_checksum(text.strip())
        m = _SORTEDMULTI_RE.fullmatch(desc)
        if not m:
            raise ValueError("only wsh(sortedmulti(...)) descriptors are supported")
        parsed = [parse_key(part) for part in m.group(2).split(",")]
        branches = {b for _, b in parsed if b is not None}
        if len(branches) != 1:
            raise ValueError("all ranged keys must use the same branch")
        return cls(int(m.group(1)), tuple(k for k, _ in parsed), network), branches.pop()

    def child_keys(self, branch: int, index: int) -> list[tuple[bytes, bytes, tuple[int, ...]]]:
        """(pubkey, origin fingerprint, path) for each cosigner at (branch, index)."""
        key = (branch, index)
        if key not in self._cache:
            out = []
            for k in self.keys:
                pub, path = k.derive(branch, index)
                out.append((pub, k.fingerprint, path))
            if len({pub for pub, _, _ in out}) != len(out):
                raise ValueError(f"two cosigners derive the same key at {branch}/{index} (a key "
                                 "counted twice): refusing that script")
            self._cache[key] = out
        return self._cache[key]

    def witness_script(self, branch: int, index: int) -> CScript:
        """``m <sorted pubkeys> n OP_CHECKMULTISIG``."""
        pubs = sorted(p for p, _, _ in self.child_keys(branch, index))
        return CScript([self.threshold, *pubs, len(pubs), OP_CHECKMULTISIG])

    def script_pubkey(self, branch: int, index: int) -> CScript:
        """P2WSH scriptPubKey ``0 <sha256(witness_script)>``."""
        return CScript([0, hashlib.sha256(self.witness_script(branch, index)).digest()])

    def locate(
        self, spk: bytes, hints: Iterable[tuple[bytes, Sequence[int]]]
    ) -> tuple[int, int] | None:
        """``(branch, index)`` at which ``spk`` re-derives from this descriptor, else ``None``.

        ``hints`` are a PSBT's (fingerprint, path) claims. They only propose candidate indices
        (a path under one of our ranged keys' origins ending ``/<0|1>/<index>``); a candidate
        counts only if this descriptor derives exactly ``spk`` there, so no claimed path can
        make a foreign script ours. A descriptor of fixed keys only has the one script (0, 0).
        """
        candidates: set[tuple[int, int]] = set()
        if all(k.xpub is None for k in self.keys):
            candidates.add((0, 0))
        for fp, path in hints:
            for k in self.keys:
                n = len(k.origin)
                if (k.xpub is not None and bytes(fp) == k.fingerprint and len(path) == n + 2
                        and tuple(path[:n]) == k.origin and path[n] in (0, 1)
                        and 0 <= path[n + 1] < HARDENED):
                    candidates.add((path[n], path[n + 1]))
        for branch, index in sorted(candidates)[: 2 * len(self.keys) + 1]:
            if bytes(self.script_pubkey(branch, index)) == bytes(spk):
                return branch, index
        return None

    def address(self, index: int, branch: int = 0) -> str:
        """Bech32 P2WSH address on this descriptor's network."""
        prog = hashlib.sha256(self.witness_script(branch, index)).digest()
        return segwit_encode(self.network.hrp, 0, prog)


def fixed_key(pubkey: bytes) -> DescriptorKey:
    """Descriptor key for a non-HD key (HSM-held): origin is its own fingerprint."""
    return DescriptorKey(hash160(pubkey)[:4], (), pubkey=pubkey)


def ranged_key(master_fingerprint: bytes, origin_path: str, xpub: str) -> DescriptorKey:
    """Descriptor key for a BIP48 account xpub with its origin."""
    return DescriptorKey(
        master_fingerprint, tuple(parse_path(origin_path)), ExtendedPublicKey.parse(xpub)
    )


class MultisigDeriver:
    """Registry adapter: BTC deposit addresses from a multisig descriptor (watch-only)."""

    chain = "btc"

    def __init__(self, descriptor: MultisigDescriptor) -> None:
        self.descriptor = descriptor
        self.public_descriptor = descriptor.to_string(0)

    def derive(self, index: int) -> str:
        """Receive address ``index``."""
        return self.descriptor.address(index, 0)

    def derive_many(self, start: int, count: int) -> list[str]:
        """Receive addresses ``start .. start+count-1``."""
        return [self.descriptor.address(i, 0) for i in range(start, start + count)]
