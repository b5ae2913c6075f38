"""Walking the chain: every record's hash, position and link, the head cache, the anchors.

The verifier trusts nothing in the database: not the triggers (reported when missing), not the
``hash`` column (recomputed from ``body``), not the head cache. It names the *first* bad record:

* an edited record: its body no longer hashes to its stored hash (or, when the attacker also
  rewrote that hash, its successor no longer chains to it: the rewritten record is named);
* deleted records: a gap in ``seq`` (or, renumbered, a record whose body says it belongs later);
* an inserted record: its successor does not chain to it (or, renumbered, says it belongs earlier);
* reordered records: bodies that say they belong elsewhere;
* records deleted from the tail: a signed anchor names a ``seq`` beyond the end;
* a chain rewritten wholesale (every hash recomputed): an anchor's head hash no longer matches.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, text

from keeper.audit import guards
from keeper.audit.records import GENESIS, PREFIX, PREV_SLICE, Appended, record_hash, seq_suffix

START = Appended(0, GENESIS)  # where a chain walk begins: before record 1
MAX_PROBLEMS = 1000  # kept in a report; further ones are only counted
_BODY = text("SELECT body FROM audit_records WHERE seq = :s")


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: the record it makes bad (``seq``; None for a trail-wide finding) and why."""

    seq: int | None
    reason: str


@dataclass(slots=True)
class Report:
    """What a verification found. ``ok`` only when there is no problem at all."""

    records: int = 0
    head: Appended = START
    anchors: int = 0
    problems: list[Problem] = field(default_factory=list)
    dropped: int = 0  # problems found beyond MAX_PROBLEMS (counted, not kept)
    _low: int | None = None  # lowest seq any kept problem names (kept problems only get lower)

    def add(self, problem: Problem) -> None:
        """Keep ``problem``; once :data:`MAX_PROBLEMS` are kept only count it, unless it names
        an earlier record than any kept (the first bad record is never lost)."""
        lower = problem.seq is not None and (self._low is None or problem.seq < self._low)
        if lower:
            self._low = problem.seq
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
            return
        self.dropped += 1
        if lower:
            self.problems[-1] = problem

    def extend(self, problems: Iterable[Problem]) -> None:
        """:meth:`add` each of ``problems``."""
        for p in problems:
            self.add(p)

    @property
    def ok(self) -> bool:
        """True when the chain, the head, the guards and every anchor check out."""
        return not self.problems

    @property
    def first_bad(self) -> int | None:
        """The lowest ``seq`` any problem makes bad (None if no problem names a record)."""
        return self._low

    def first_problem(self) -> Problem | None:
        """The problem naming :attr:`first_bad` (else the first trail-wide one)."""
        bad = self.first_bad
        for p in self.problems:
            if p.seq == bad:
                return p
        return None

    def summary(self) -> str:
        """One human line (the CLI prints it)."""
        if self.ok:
            return (f"OK: {self.records} records, head seq {self.head.seq} {self.head.hash}, "
                    f"{self.anchors} anchors verified")
        p = self.first_problem()
        where = f"first bad record seq {p.seq}" if p and p.seq is not None else "trail-wide"
        total = len(self.problems) + self.dropped
        return f"TAMPERED: {where}: {p.reason if p else ''} ({total} problems)"


def _claimed_seq(body: str) -> int | None:
    try:
        value = json.loads(body).get("seq")
    except (ValueError, AttributeError):
        return None
    return value if type(value) is int else None


def walk(rows: Iterable[tuple[int, str, str]], report: Report, start: Appended = START,
         want: frozenset[int] = frozenset()) -> dict[int, str]:
    """Check ``rows`` (seq, hash, body) in ``seq`` order, continuing from ``start``; add the
    problems to ``report`` and set its ``head``/``records``. Returns the recomputed hash of each
    seq in ``want`` (the anchored ones)."""
    add = report.add
    found: dict[int, str] = {}
    last_seq, last_hash, last_ok = start.seq, start.hash, True
    n = 0
    hash_of, suffix, link = record_hash, seq_suffix, PREV_SLICE  # locals: a million iterations
    for seq, stored, body in rows:
        n += 1
        expected = last_seq + 1
        if seq != expected:
            add(Problem(expected, f"records {expected}..{seq - 1} are missing (deleted)"))
        computed = hash_of(body)
        ok = computed == stored
        if not ok:
            add(Problem(seq, "content does not match its hash (record edited)"))
        if not body.endswith(suffix(seq)):
            claimed = _claimed_seq(body)
            if claimed is not None and claimed < seq:
                add(Problem(max(claimed, start.seq + 1),
                            f"record written as seq {claimed} now sits at seq {seq}: records "
                            "were inserted or reordered before it"))
            else:
                add(Problem(seq, f"record at seq {seq} was written as seq {claimed}: records "
                                 "were deleted or reordered"))
        elif body[link] != last_hash or not body.startswith(PREFIX):
            if last_ok and seq == expected:
                bad = seq - 1 if seq - 1 > start.seq else seq
                add(Problem(bad, f"seq {seq} does not chain to seq {seq - 1}: record {bad} was "
                                 "rewritten or inserted (or this record's link was)"))
        if seq in want:
            found[seq] = computed
        last_seq, last_hash, last_ok = seq, computed, ok
    report.records += n
    report.head = Appended(last_seq, last_hash)
    return found


def _check_head_cache(conn: Connection, report: Report) -> None:
    row = conn.exec_driver_sql("SELECT seq, hash FROM audit_head WHERE id = 1").one_or_none()
    last = report.head
    if row is None:
        report.add(Problem(None, "audit_head row is missing"))
        return
    seq, h = int(row[0]), str(row[1])
    if seq > last.seq:
        report.add(Problem(last.seq + 1, f"records {last.seq + 1}..{seq} are missing "
                                                     f"from the tail (the head says {seq})"))
    elif seq < last.seq:
        report.add(Problem(seq + 1, f"records {seq + 1}..{last.seq} were added "
                                                "behind the head (not appended by the trail)"))
    elif h != last.hash:
        report.add(Problem(seq, f"the last record seq {seq} differs from the head "
                                            "hash (rewritten)"))


def anchored_hash(conn: Connection, seq: int) -> str | None:
    """The recomputed hash of record ``seq`` (GENESIS for 0; None when it is not stored)."""
    if seq == 0:
        return GENESIS
    row = conn.execute(_BODY, {"s": int(seq)}).one_or_none()
    return None if row is None else record_hash(row[0])


def written_after(conn: Connection, lo: int, hi: int, at: str) -> int | None:
    """The first record in ``lo..hi`` whose time is later than ``at`` (a record time string),
    or None. Only run on a segment an anchor already proved rewritten."""
    for seq, _h, body in rows(conn, lo - 1):
        if seq > hi:
            break
        try:
            stamped = json.loads(body)["record"]["at"]
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(stamped, str) and stamped > at:
            return seq
    return None


def rows(conn: Connection, start: int = 0, chunk: int = 20_000) -> Iterator[tuple[int, str, str]]:
    """Stream ``(seq, hash, body)`` of records after ``start`` in ``seq`` order, in ``conn``'s
    transaction, straight from the driver (a server-side cursor on PostgreSQL): a million rows
    cost no SQLAlchemy row objects."""
    conn.exec_driver_sql("SELECT 1")  # the transaction (and its snapshot) is open on the driver
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        cur = raw.cursor(name="audit_walk")
        cur.execute("SELECT seq, hash, body FROM audit_records WHERE seq > %s ORDER BY seq",
                    (int(start),))
    else:
        cur = raw.cursor()
        cur.execute("SELECT seq, hash, body FROM audit_records WHERE seq > ? ORDER BY seq",
                    (int(start),))
    try:
        while batch := cur.fetchmany(chunk):
            yield from batch
    finally:
        cur.close()


def snapshot(engine: Engine) -> Connection:
    """A read connection whose transaction sees one snapshot (REPEATABLE READ on PostgreSQL;
    a SQLite read transaction is one already)."""
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    conn.begin()
    return conn


def verify_chain(conn: Connection, want: frozenset[int] = frozenset()) -> tuple[Report, dict[int, str]]:
    """Verify the whole chain, the head cache and the guard triggers in ``conn``'s snapshot."""
    report = Report()
    for name in guards.missing_guards(conn):
        report.add(Problem(None, f"guard trigger {name} is missing (dropped?)"))
    found = walk(rows(conn), report, want=want)
    _check_head_cache(conn, report)
    return report, found
