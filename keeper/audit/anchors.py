"""Anchors: HSM-signed statements of the chain's head kept outside the database.

An anchor file is JSON lines, opened ``O_APPEND`` and fsynced after every line, meant to live
where a database administrator cannot rewrite it together with the trail (another host, a
WORM bucket, ``chattr +a``). Each line is canonical JSON ``{"sig":"<base64 DER>","statement":S}``
where ``S`` is itself a canonical JSON *string*::

    {"at":"<UTC time>","head":"<hash of record seq>","key":"<33-byte compressed pubkey hex>",
     "prev":"<sha256 hex of the previous anchor line, or 64 zeros>","seq":N,
     "type":"strongroom-audit-anchor/1"}

``sig`` is the secp256k1 ECDSA signature (low-s, DER) of ``sha256(S)`` made inside the HSM:
``openssl dgst -sha256 -verify key.pem -signature sig.der statement.txt`` checks it (RECIPE.md).
``prev`` chains the anchors, so removing a line from the middle of the file is detected.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import coincurve

from keeper.audit.records import GENESIS, Appended, canonical_json, record_hash, timestamp
from keeper.audit.verify import Problem
from keeper.keys.ecdsa import DigestSigner, der_encode

ANCHOR_TYPE = "strongroom-audit-anchor/1"


class AnchorError(RuntimeError):
    """An anchor could not be written (the chain failed verification, the file is unusable)."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """One parsed anchor line."""

    line: int
    text: str  # the whole line, without its newline
    statement: str
    sig: bytes
    seq: int
    head: str
    key: str
    prev: str
    at: str


def statement(head: Appended, key: bytes, prev: str) -> str:
    """The canonical statement an anchor signs."""
    return canonical_json({"at": timestamp(), "head": head.hash, "key": key.hex(), "prev": prev,
                           "seq": head.seq, "type": ANCHOR_TYPE})


def sign_line(signer: DigestSigner, head: Appended, prev: str) -> str:
    """A complete anchor line for ``head``, signed by ``signer`` (the HSM key)."""
    text = statement(head, signer.public_key(), prev)
    r, s = signer.sign_digest(hashlib.sha256(text.encode()).digest())
    return canonical_json({"sig": base64.b64encode(der_encode(r, s)).decode(), "statement": text})


def _last_line(path: Path) -> str | None:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 65536))
        lines = fh.read().splitlines()
    return lines[-1].decode() if lines else None


def append_line(path: Path, make_line: Callable[[str], str]) -> str:
    """Append ``make_line(prev)`` to the anchor file under an exclusive lock, then fsync.

    ``prev`` is the sha256 of the file's last line (64 zeros for an empty file): the lock keeps
    two anchoring processes from chaining onto the same line.
    """
    path = Path(path)
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = _last_line(path)
        prev = GENESIS if last is None else record_hash(last)
        line = make_line(prev)
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:  # the new directory entry must survive a crash too
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return line


def parse(path: Path) -> tuple[list[Anchor], list[Problem]]:
    """Every anchor line of ``path`` and the lines that are malformed. A missing file raises
    ``FileNotFoundError``: a deleted anchor file must not verify as "no anchors"."""
    anchors: list[Anchor] = []
    problems: list[Problem] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for i, raw in enumerate(fh, 1):
            text = raw.rstrip("\n")
            try:
                outer = json.loads(text)
                st = json.loads(outer["statement"])
                a = Anchor(i, text, outer["statement"], base64.b64decode(outer["sig"], validate=True),
                           int(st["seq"]), str(st["head"]), str(st["key"]), str(st["prev"]),
                           str(st["at"]))
                if st.get("type") != ANCHOR_TYPE or type(st["seq"]) is not int:
                    raise ValueError("not an anchor statement")
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(Problem(None, f"anchor line {i} is malformed ({exc})"))
                continue
            anchors.append(a)
    return anchors, problems


def trusted_keys(pubkeys: bytes | Iterable[bytes]) -> dict[str, coincurve.PublicKey]:
    """Trusted anchor keys by compressed hex (one key, or several across a key rotation)."""
    items = [pubkeys] if isinstance(pubkeys, bytes | bytearray) else list(pubkeys)
    keys = [coincurve.PublicKey(bytes(k)) for k in items]
    return {k.format(compressed=True).hex(): k for k in keys}


def check(anchors: list[Anchor], pubkeys: bytes | Iterable[bytes]) -> tuple[list[Anchor], list[Problem]]:
    """The anchors validly signed by one of ``pubkeys`` (the trusted, pinned keys; several
    across a key rotation), in file order, and the problems of the others and of the anchor
    chain."""
    good: list[Anchor] = []
    problems: list[Problem] = []
    keys = trusted_keys(pubkeys)
    prev = GENESIS
    for a in anchors:
        key = keys.get(a.key)
        digest = hashlib.sha256(a.statement.encode()).digest()
        try:
            valid = key is not None and key.verify(a.sig, digest, hasher=None)
        except (ValueError, TypeError):
            valid = False
        if not valid:
            problems.append(Problem(None, f"anchor line {a.line}: not validly signed by a "
                                          f"trusted key ({', '.join(keys)}): forged or altered"))
        else:
            if a.prev != prev:
                problems.append(Problem(None, f"anchor line {a.line} does not chain to the line "
                                              "before it: an anchor was removed or inserted"))
            good.append(a)
        prev = record_hash(a.text)
    return good, problems


def against_chain(anchors: list[Anchor], hashes: dict[int, str], head: Appended,
                  written_after: Callable[[int, int, str], int | None] | None = None) -> list[Problem]:
    """Problems of the chain that valid ``anchors`` reveal: a tail cut below an anchored seq,
    or an anchored head hash the chain no longer has (the segment up to it was rewritten).

    For a rewritten segment ``lo..seq`` the first bad record is narrowed, when possible, by
    ``written_after(lo, seq, anchor_time)``: the first record of the segment stamped later than
    the anchor that covers it, which cannot be genuine (cut off and replaced by new appends).
    """
    problems: list[Problem] = []
    good_upto = 0
    for a in sorted(anchors, key=lambda x: x.seq):
        if a.seq > head.seq:
            problems.append(Problem(head.seq + 1, f"anchor line {a.line} (at {a.at}) covers seq "
                                                  f"{a.seq} but the trail ends at {head.seq}: "
                                                  "records were deleted from the tail"))
        elif (GENESIS if a.seq == 0 else hashes.get(a.seq)) != a.head:
            lo = good_upto + 1
            late = written_after(lo, a.seq, a.at) if written_after is not None else None
            why = (f"anchor line {a.line} (at {a.at}) signed head {a.head} for seq {a.seq}; the "
                   f"trail has another: records {lo}..{a.seq} were rewritten")
            if late is not None:
                why += f"; seq {late} is stamped after that anchor: records were replaced from it"
            problems.append(Problem(lo if late is None else late, why))
        else:
            good_upto = max(good_upto, a.seq)
    return problems
