"""``AuditTrail``: the standalone facade (append, group-committed submit, verify, anchor, export)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine

from keeper.audit import anchors as anc
from keeper.audit.chain import append, head
from keeper.audit.records import Appended, AuditRecord
from keeper.audit.verify import (
    Problem,
    Report,
    anchored_hash,
    rows,
    snapshot,
    verify_chain,
    walk,
    written_after,
)
from keeper.audit.writer import AuditWriter, write_options
from keeper.keys.ecdsa import DigestSigner
from keeper.ledger.db import make_engine


def verify_trail(engine: Engine, anchors: Path | None = None,
                 pubkey: bytes | Iterable[bytes] | None = None) -> Report:
    """Verify the whole trail; with ``anchors`` (a file) also every anchor, signed by ``pubkey``
    (the trusted key, e.g. the HSM pin record's, or several across a key rotation). The anchor
    file is read *before* the database snapshot is taken, so every anchor names a record the
    snapshot can hold."""
    found, bad = anc.parse(anchors) if anchors is not None else ([], [])
    good: list[anc.Anchor] = []
    if found:
        if pubkey is None:
            raise ValueError("anchors need the trusted public key to be checked")
        good, more = anc.check(found, pubkey)
        bad += more
    conn = snapshot(engine)
    try:
        report, hashes = verify_chain(conn, frozenset(a.seq for a in good))
        report.extend(bad + anc.against_chain(good, hashes, report.head,
                                              lambda lo, hi, at: written_after(conn, lo, hi, at)))
    finally:
        conn.close()
    report.anchors = len(good)
    return report


def anchor(engine: Engine, signer: DigestSigner, path: Path) -> Appended:
    """Sign the chain's current head with ``signer`` (an HSM key) and append it to ``path``.

    The records added since the file's last anchor are verified first (they must chain onto
    that anchor's head): a tampered chain is refused (``AnchorError``), never anchored.
    """
    pub = signer.public_key()
    signed: list[Appended] = []

    def make(prev: str) -> str:
        found, _ = anc.parse(path)
        good, _ = anc.check(found, pub)
        start = Appended(good[-1].seq, good[-1].head) if good else Appended(0, anc.GENESIS)
        conn = snapshot(engine)
        try:
            report = Report()
            report.head = start
            walk(rows(conn, start.seq), report, start)
            at = head(conn)
            still = anchored_hash(conn, start.seq)
        finally:
            conn.close()
        if still != start.hash:
            report.add(Problem(start.seq, "the last anchored record was rewritten"))
        if not report.ok or at != report.head:
            raise anc.AnchorError(f"not anchoring a chain that fails verification: "
                                  f"{report.summary()}")
        signed.append(at)
        return anc.sign_line(signer, at, prev)

    anc.append_line(path, make)
    return signed[0]


def export(engine: Engine, out: TextIO, start: int = 1) -> Appended:
    """Write records ``start``.. as JSON lines (each line exactly the hashed envelope) to
    ``out``; returns the last exported ``(seq, hash)``. One snapshot: a consistent prefix."""
    conn = snapshot(engine)
    last = Appended(start - 1, anc.GENESIS)
    try:
        for seq, h, body in rows(conn, start - 1):
            out.write(body + "\n")
            last = Appended(seq, h)
    finally:
        conn.close()
    return last


class AuditTrail:
    """The audit trail of one database, for standalone use.

    ``append`` commits records in a transaction of their own; ``submit``/``record`` go through a
    group-committing :class:`~keeper.audit.writer.AuditWriter` (started on first use). A change
    made in another transaction writes its record with :func:`keeper.audit.append` in *that*
    transaction instead.
    """

    def __init__(self, url_or_engine: str | Engine, *, max_batch: int = 8192) -> None:
        self.engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        self._own_engine = isinstance(url_or_engine, str)
        self._max_batch = max_batch
        self._writer: AuditWriter | None = None

    def append(self, records: AuditRecord | Sequence[AuditRecord]) -> list[Appended]:
        """Append and commit ``records`` in one transaction of their own."""
        with self.engine.connect().execution_options(**write_options()) as conn, conn.begin():
            return append(conn, records)

    def submit(self, records: AuditRecord | Sequence[AuditRecord]) -> Future[list[Appended]]:
        """Queue ``records`` for a group commit; the future yields their ``(seq, hash)``."""
        if self._writer is None:
            self._writer = AuditWriter(self.engine, self._max_batch)
        return self._writer.submit(records)

    def record(self, actor: str, operation: str, params: Any = None, result: Any = None) -> Appended:
        """Record one fact through the group committer and wait until it is durable."""
        rec = AuditRecord(actor, operation, {} if params is None else params, result)
        return self.submit(rec).result()[0]

    def verify(self, anchors: Path | None = None,
               pubkey: bytes | Iterable[bytes] | None = None) -> Report:
        """See :func:`verify_trail`."""
        return verify_trail(self.engine, anchors, pubkey)

    def anchor(self, signer: DigestSigner, path: Path) -> Appended:
        """See :func:`anchor`."""
        return anchor(self.engine, signer, path)

    def export(self, out: TextIO, start: int = 1) -> Appended:
        """See :func:`export`."""
        return export(self.engine, out, start)

    def close(self) -> None:
        """Flush the group committer; dispose of the engine if this trail created it."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._own_engine:
            self.engine.dispose()

    def __enter__(self) -> AuditTrail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
