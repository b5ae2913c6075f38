"""The one gate flows call before every movement: :meth:`ComplianceService.screen` and
:meth:`ComplianceService.check_can_move`, plus freezes, cases and SAR/CTR drafts.

``screen`` combines sanctions screening (address exact, counterparty name fuzzy), address risk
and the versioned rules into one :class:`Verdict` (allow / review / block, why, rule ids and
versions). Everything it decides - the movement row, a case and SAR/CTR drafts, and the audit
record - commits in ONE transaction: a crash leaves all of it or none of it. A blocked movement
posts nothing (the caller does not move money on ``block``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text, update

from keeper.audit import AuditRecord, append, batch_records, record_in
from keeper.compliance import totals
from keeper.compliance.decisions import CaseError, FourEyes
from keeper.compliance.gate import (
    Findings,
    Histories,
    freeze_keys,
    frozen_reason,
    load_freezes,
    load_stored,
    prescreen,
)
from keeper.compliance.models import CaseEventRow, CaseRow, FreezeRow, MovementRow, ReportRow
from keeper.compliance.risk import AddressRisk
from keeper.compliance.rules_engine import (
    Action,
    Movement,
    RuleHit,
    RuleSet,
    evaluate,
    reach,
    rule_window,
)
from keeper.compliance.screening.addresses import normalise_address
from keeper.compliance.screening.screener import Screener
from keeper.ledger.db import WRITE

#: ``json.dumps(value, sort_keys=True)`` with its encoder built once (a batch stores thousands)
_SORTED = json.JSONEncoder(sort_keys=True).encode
SAR_FILING_DAYS = 30
ACTOR = "compliance"
_MOV, _CASE, _EV = MovementRow.__table__, CaseRow.__table__, CaseEventRow.__table__
_FRZ, _REP = FreezeRow.__table__, ReportRow.__table__


class Frozen(Exception):  # noqa: N818 - reads as what it is
    """A frozen client or wallet: no flow may move anything for it until the freeze is lifted."""


class MovementConflict(ValueError):  # noqa: N818 - reads as what it is
    """A movement id screened before with other content (a retry must repeat it exactly)."""


@dataclass(frozen=True)
class Verdict:
    """The decision on one movement: ``allow`` / ``review`` / ``block``, why, and what it opened."""

    movement_id: str
    outcome: str
    reasons: tuple[str, ...]
    rule_hits: tuple[RuleHit, ...]
    rules_version: int
    case_id: int | None = None
    report_ids: tuple[int, ...] = ()


def _now() -> datetime:
    return datetime.now(UTC)


class ComplianceService(FourEyes):
    """Screening gate, freezes, cases and reports over the ``compliance_*`` tables."""

    def __init__(
        self,
        engine: Engine,
        rules: RuleSet,
        screener: Screener | None = None,
        risk: AddressRisk | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        """``rules``: the version in force; ``screener``/``risk`` optional (none: not screened)."""
        self.engine, self.rules, self.screener, self.risk, self.clock = engine, rules, screener, risk, clock

    # ---- the gate -------------------------------------------------------------------------
    def check_can_move(
        self, client_id: str, address: str | None = None, conn: Connection | None = None
    ) -> None:
        """Raise :class:`Frozen` if the client, or ``address``, is frozen."""
        keys = freeze_keys(client_id, address)
        with self._conn(conn) as c:
            why = frozen_reason(
                load_freezes(c, [client_id], [k for s, k in keys if s == "address"]), client_id, address
            )
        if why is not None:
            raise Frozen(why)

    def screen(self, tx: Movement) -> Verdict:
        """Decide on ``tx`` (see module). Idempotent by ``tx.id``: a repeat returns the stored
        verdict. A frozen client/wallet is blocked without opening another case."""
        return self.screen_many([tx])[0]

    def screen_many(self, txs: Sequence[Movement]) -> list[Verdict]:
        """Decide on each of ``txs``: the same verdicts, rows and records as :meth:`screen` of
        each in order (consecutive like records folded into ``<op>.batch`` records, see
        :func:`keeper.audit.batch_records`), in ONE transaction (the clients' locks taken
        together, each table read once per batch). A movement id repeated with other content
        (:class:`MovementConflict`) refuses the whole batch: nothing of it is written."""
        found = [prescreen(tx, self.risk, self.screener) for tx in txs]  # before the locks
        if not found:
            return []
        with self._serialised(*{f.tx.client_id for f in found}) as conn:
            audit: list[AuditRecord] = []
            verdicts = self._screen_found(conn, found, audit)
            append(conn, batch_records(audit))  # a batch's screens: a few records
        return verdicts

    def lock_screens(self, conn: Connection, client_ids: Sequence[str]) -> None:
        """Take the screening locks of ``client_ids`` in ``conn``'s open write transaction (a
        SQLite write transaction already holds the database's write lock; PostgreSQL:
        transaction-scoped advisory locks in key order). Take them before anything else the
        transaction locks (and so before its audit append): one lock order everywhere."""
        if conn.dialect.name == "postgresql":
            keys = sorted({_lock_key(c) for c in client_ids})
            conn.execute(
                text("SELECT count(pg_advisory_xact_lock(k)) FROM "
                     "(SELECT unnest(CAST(:keys AS bigint[])) AS k ORDER BY 1) AS s"),
                {"keys": keys},
            )

    def screen_in(self, conn: Connection, txs: Sequence[Movement],
                  audit: list[AuditRecord]) -> list[Verdict]:
        """:meth:`screen_many` inside the caller's open write transaction, which holds the
        clients' screening locks (:meth:`lock_screens`): rows, cases and reports are written on
        ``conn``, the audit records collected in ``audit`` for the caller to append (with its
        own, in the same transaction). Raises :class:`MovementConflict` (the caller rolls back)."""
        return self._screen_found(conn, [prescreen(tx, self.risk, self.screener) for tx in txs],
                                  audit)

    def _screen_found(self, conn: Connection, found: list[Findings],
                      audit: list[AuditRecord]) -> list[Verdict]:
        rows: list[dict[str, Any]] = []
        verdicts: list[Verdict] = []
        stored = {i: (json.loads(r.detail).get("fingerprint"), _verdict_of(r))
                  for i, r in load_stored(conn, [f.tx.id for f in found]).items()}
        frozen = load_freezes(conn, [f.tx.client_id for f in found],
                              [normalise_address(f.tx.address) for f in found if f.tx.address])
        history = Histories(conn, [f.tx for f in found if f.tx.id not in stored],
                            reach(self.rules))
        for f in found:
            fingerprint = _fingerprint(f.tx)
            prior = stored.get(f.tx.id)
            if prior is not None:
                if prior[0] != fingerprint:
                    raise MovementConflict(f"movement {f.tx.id} was screened with other content")
                verdicts.append(self._current(conn, prior[1], f.tx, audit))
                continue
            verdict, row, ctr_filed = self._decide(conn, f, fingerprint, frozen, history, audit)
            stored[f.tx.id] = (fingerprint, verdict)
            if verdict.outcome != "block":
                history.add(f.tx, ctr_filed)
            rows.append(row)
            verdicts.append(verdict)
        if rows:
            totals.store(conn, rows, reach(self.rules).bands)
        return verdicts

    def _decide(
        self,
        conn: Connection,
        found: Findings,
        fingerprint: str,
        frozen: dict[tuple[str, str], Any],
        history: Histories,
        audit: list[AuditRecord],
    ) -> tuple[Verdict, dict[str, Any], bool]:
        """The verdict on a new movement, its ``compliance_movements`` row and whether it filed
        a CTR; cases and reports are written, audit records collected in ``audit``."""
        tx, outcome, sar, reasons = found.tx, found.outcome, found.sar, list(found.reasons)
        why = frozen_reason(frozen, tx.client_id, tx.address)
        if why is not None:
            outcome = "block"
            reasons.append(why)
        hits = evaluate(self.rules, tx, history.before(tx))
        for h in hits:
            reasons.append(f"{h.rule_id}@v{h.rules_version}: {h.reason}")
            if h.action is Action.BLOCK_SAR:
                outcome, sar = "block", True
            elif h.action is Action.HOLD and outcome != "block":
                outcome = "review"
        case_id = None
        reports: list[int] = []
        if outcome != "allow" and why is None:  # a frozen party's attempts add to its case
            case_id = self._open(
                conn, tx.client_id, tx.id, ACTOR, {"outcome": outcome, "reasons": reasons}, audit
            )
        if sar and case_id is not None:
            reports.append(self._report(conn, "SAR", tx, case_id, reasons, audit))
        ctr = [h for h in hits if h.action is Action.FILE_CTR]
        ctr_filed = bool(ctr) and outcome != "block" and not history.ctr_within(tx, self._window(ctr[0]))
        if ctr_filed:  # one per window
            reports.append(self._report(conn, "CTR", tx, case_id, reasons, audit))
        detail = {
            "reasons": reasons,
            "case_id": case_id,
            "reports": reports,
            "hits": [[h.rule_id, h.rules_version, h.action.value, h.reason] for h in hits],
            "fingerprint": fingerprint,
            "ctr_filed": ctr_filed,
            "address": tx.address,
            "counterparty": tx.counterparty,
            "country": tx.country,
        }
        row = {
            "id": tx.id, "client_id": tx.client_id, "kind": tx.kind, "asset": tx.asset,
            "units": str(tx.units), "usd_cents": tx.usd_cents, "at": tx.at, "verdict": outcome,
            "rules_version": self.rules.version, "detail": _SORTED(detail),
        }
        audit.append(AuditRecord(
            ACTOR,
            "compliance.screen",
            {"movement": tx.id, "client": tx.client_id, "kind": tx.kind, "asset": tx.asset,
             "units": str(tx.units), "usd_cents": tx.usd_cents},
            {"outcome": outcome, "rules_version": self.rules.version, **detail},
        ))
        verdict = Verdict(
            tx.id, outcome, tuple(reasons), tuple(hits), self.rules.version, case_id, tuple(reports)
        )
        return verdict, row, ctr_filed

    def flagged(self, since: datetime, until: datetime) -> list[Verdict]:
        """Movements in ``[since, until)`` with an ``alert`` rule hit (R002, R006...), oldest
        first: what the officers' queue (a job) turns into alerts."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_MOV).where(_MOV.c.at >= since, _MOV.c.at < until).order_by(_MOV.c.at, _MOV.c.id)
            ).all()
        verdicts = [_verdict_of(r) for r in rows]
        return [v for v in verdicts if any(h.action is Action.ALERT for h in v.rule_hits)]

    # ---- freezes --------------------------------------------------------------------------
    def freeze(
        self,
        actor: str,
        reason: str,
        client_id: str | None = None,
        address: str | None = None,
        case_id: int | None = None,
    ) -> None:
        """Freeze a client or a wallet address (idempotent), audited in the same transaction."""
        subject, key = ("client", client_id) if client_id else ("address", normalise_address(address or ""))
        with self._serialised(key if subject == "client" else f"address:{key}") as conn:
            if conn.execute(select(_FRZ.c.key).where(_FRZ.c.subject == subject, _FRZ.c.key == key)).first():
                return
            conn.execute(
                insert(_FRZ).values(
                    subject=subject, key=key, case_id=case_id, reason=reason, actor=actor, at=self.clock()
                )
            )
            record_in(
                conn, actor, "compliance.freeze", {subject: key, "case": case_id, "reason": reason}, "frozen"
            )

    # ---- cases ----------------------------------------------------------------------------
    def open_case(self, actor: str, client_id: str, detail: dict[str, Any]) -> int:
        """Open a case by hand; returns its id."""
        with self._write() as conn:
            return self._open(conn, client_id, None, actor, detail)

    def assign(self, case_id: int, actor: str, assignee: str) -> None:
        """Assign an open case to ``assignee``."""
        self._advance(case_id, "assign", actor, {"assignee": assignee}, assignee=assignee)

    def add_evidence(self, case_id: int, actor: str, evidence: dict[str, Any]) -> None:
        """Attach evidence (a JSON object) to an open case."""
        self._advance(case_id, "evidence", actor, evidence)

    def close(self, case_id: int, actor: str) -> None:
        """Close a decided case."""
        with self._write() as conn:
            if self._case(conn, case_id).status != "decided":
                raise CaseError(f"case {case_id} is not decided")
            conn.execute(update(_CASE).where(_CASE.c.id == case_id).values(status="closed"))
            self._step(conn, case_id, "close", actor, {})

    def case_steps(self, case_id: int) -> list[tuple[str, str, datetime, dict[str, Any]]]:
        """(step, actor, time, detail) of every step of a case, in order."""
        with self.engine.connect() as conn:
            return [
                (r.step, r.actor, r.at, json.loads(r.detail))
                for r in conn.execute(select(_EV).where(_EV.c.case_id == case_id).order_by(_EV.c.id))
            ]

    # ---- internals ------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A case step's transaction, a writer from its first read (SQLite ``BEGIN IMMEDIATE``):
        a deferred one read, then failed at once with "database is locked" when another
        connection (the audit writer, a job) committed between its read and its write."""
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            yield conn

    @contextmanager
    def _serialised(self, *client_ids: str) -> Iterator[Connection]:
        """A write transaction that holds the clients' locks from its first read: screens of one
        client run one after another, so each sliding window sees every earlier movement.
        SQLite: ``BEGIN IMMEDIATE`` (the database's write lock); PostgreSQL: transaction-scoped
        advisory locks keyed by the client ids, taken in key order (no deadlock between batches)."""
        with self._write() as conn:
            self.lock_screens(conn, client_ids)
            yield conn

    def _current(self, conn: Connection, v: Verdict, tx: Movement, audit: list[AuditRecord]) -> Verdict:
        """A stored verdict as it stands now: a held movement follows its case's decision
        (``clear`` allows, ``confirm`` blocks), and a freeze since then blocks it."""
        outcome, reasons = v.outcome, list(v.reasons)
        if outcome == "review" and v.case_id is not None:
            decided = self._case(conn, v.case_id).outcome
            if decided is not None:
                outcome = "allow" if decided == "clear" else "block"
                reasons.append(f"case {v.case_id} decided {decided}")
        if outcome != "block":
            try:
                self.check_can_move(tx.client_id, tx.address, conn)
            except Frozen as exc:
                outcome = "block"
                reasons.append(str(exc))
        audit.append(AuditRecord(
            ACTOR,
            "compliance.screen.repeat",
            {"movement": v.movement_id, "client": tx.client_id},
            {"outcome": outcome, "stored": v.outcome, "reasons": reasons},
        ))
        return replace(v, outcome=outcome, reasons=tuple(reasons))

    def _window(self, hit: RuleHit) -> timedelta:
        """The sliding window of the rule behind ``hit`` (24 h when it names none)."""
        rule = next(r for r in self.rules.rules if r.id == hit.rule_id)
        return timedelta(seconds=rule_window(rule))

    def _conn(self, conn: Connection | None) -> Any:
        return nullcontext(conn) if conn is not None else self.engine.connect()

    def _case(self, conn: Connection, case_id: int) -> Any:
        row = conn.execute(select(_CASE).where(_CASE.c.id == case_id)).first()
        if row is None:
            raise CaseError(f"no case {case_id}")
        return row

    def _open(
        self,
        conn: Connection,
        client_id: str,
        movement_id: str | None,
        actor: str,
        detail: dict[str, Any],
        audit: list[AuditRecord] | None = None,
    ) -> int:
        case_id = conn.execute(
            insert(_CASE).values(
                client_id=client_id, movement_id=movement_id, status="open", opened_at=self.clock()
            )
        ).inserted_primary_key[0]
        self._step(
            conn, case_id, "open", actor, {"client": client_id, "movement": movement_id, **detail}, audit
        )
        return int(case_id)

    def _advance(self, case_id: int, step: str, actor: str, detail: dict[str, Any], **values: Any) -> None:
        with self._write() as conn:
            if self._case(conn, case_id).status != "open":
                raise CaseError(f"case {case_id} is not open")
            if values:
                conn.execute(update(_CASE).where(_CASE.c.id == case_id).values(**values))
            self._step(conn, case_id, step, actor, detail)

    def _step(
        self,
        conn: Connection,
        case_id: int,
        step: str,
        actor: str,
        detail: dict[str, Any],
        audit: list[AuditRecord] | None = None,
    ) -> None:
        """Record a case step; its audit record is written now, or collected in ``audit``."""
        at = self.clock()
        conn.execute(
            insert(_EV).values(
                case_id=case_id, step=step, actor=actor, at=at, detail=json.dumps(detail, sort_keys=True)
            )
        )
        _audit(conn, audit, AuditRecord(actor, f"compliance.case.{step}", {"case": case_id, **detail}, "ok"))

    def _report(
        self,
        conn: Connection,
        kind: str,
        tx: Movement,
        case_id: int | None,
        reasons: list[str],
        audit: list[AuditRecord] | None = None,
    ) -> int:
        now = self.clock()
        due = now + timedelta(days=SAR_FILING_DAYS if kind == "SAR" else 15)
        body = {
            "kind": kind,
            "client_id": tx.client_id,
            "movement_id": tx.id,
            "asset": tx.asset,
            "units": str(tx.units),
            "usd_cents": tx.usd_cents,
            "at": tx.at.isoformat(),
            "case_id": case_id,
            "reasons": reasons,
            "rules_version": self.rules.version,
            "due_at": due.isoformat(),
        }
        rid = conn.execute(
            insert(_REP).values(
                kind=kind,
                client_id=tx.client_id,
                case_id=case_id,
                status="draft",
                created_at=now,
                due_at=due,
                body=json.dumps(body, sort_keys=True),
            )
        ).inserted_primary_key[0]
        record = AuditRecord(ACTOR, f"compliance.report.{kind.lower()}", {"report": rid, **body}, "draft")
        _audit(conn, audit, record)
        return int(rid)


def _fingerprint(tx: Movement) -> str:
    """What a retry of ``tx`` must repeat (its value in cents may move with the price feed)."""
    fields = [
        tx.client_id,
        tx.kind,
        tx.asset,
        str(tx.units),
        tx.at.isoformat(),
        normalise_address(tx.address) if tx.address else None,
        tx.counterparty,
        tx.country,
    ]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def _lock_key(client_id: str) -> int:
    """The PostgreSQL advisory lock key of a client's screens."""
    digest = hashlib.sha256(b"compliance:" + client_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _audit(conn: Connection, pending: list[AuditRecord] | None, record: AuditRecord) -> None:
    """Write ``record`` now, or collect it in ``pending`` (a batch writes its records together)."""
    if pending is None:
        append(conn, record)
    else:
        pending.append(record)


def _verdict_of(r: Any) -> Verdict:
    d = json.loads(r.detail)
    hits = tuple(RuleHit(h[0], h[1], Action(h[2]), h[3]) for h in d["hits"])
    return Verdict(
        r.id, r.verdict, tuple(d["reasons"]), hits, r.rules_version, d["case_id"], tuple(d["reports"])
    )
