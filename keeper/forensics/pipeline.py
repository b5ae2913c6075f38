"""The real-time anomaly pipeline: sources -> detectors -> alerts, restart-safe.

:meth:`AnomalyPipeline.run_once` reads each source after its cursor (a bounded batch), runs
every event through every detector (in event-time order), then commits in ONE transaction the
sources' new cursors (compare-and-set), the detectors' changed state keys and the new alerts with
their forensic chains (``forensics_alerts``, unique per ``alert_key``). A crash before that
commit leaves everything as it was: the same events are read again and judged against the same
state (nothing missed); a crash after it leaves everything advanced (nothing re-judged), and an
alert already stored is never stored twice. Only then is each new alert raised to the ops outbox
(``alert(kind, message, ref)``, e.g. :meth:`keeper.ledger.Ledger.raise_alert`, once per
``ref``), which :mod:`keeper.alerts` delivers; an alert stored but not yet raised (a crash in
between) is raised by the next run. A failed run drops the in-memory state, so the next run
starts from what was committed. A detector that raises on an event (an input nobody foresaw)
does not halt the stream: the other detectors judge it, the cursor moves on, and an
``anomaly_detector_error`` ops alert names the detector and the event.

Latency: each alert keeps the event's time and when it was detected; SC-008 asks 100 % of a
test set within 30 s. The keeper's ``forensics_detect`` job runs every second.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from keeper.forensics.detectors import Detector, Finding, State
from keeper.forensics.events import Event, Source
from keeper.forensics.models import AlertRow, CursorRow, StateRow
from keeper.ledger.db import WRITE

log = logging.getLogger(__name__)
AlertFn = Callable[[str, str, str], object]  # (kind, message, ref)
ALERT_PREFIX = "anomaly_"
DETECTOR_ERROR = "anomaly_detector_error"
MAX_MESSAGE_CHAIN = 3000  # characters of the forensic chain put in the ops alert's message
_CHUNK = 500


class PipelineMovedError(RuntimeError):
    """Another pipeline committed first (a cursor moved): this run changed nothing."""


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as stored: the forensic chain in full (``evidence``)."""

    id: int
    alert_key: str
    detector: str
    subject: str
    event_at: datetime
    detected_at: datetime
    summary: str
    evidence: list
    raised: bool

    @property
    def latency_s(self) -> float:
        """Seconds from the event to its detection (a figure for reports, not money)."""
        return (self.detected_at - self.event_at).total_seconds()


def _cursor_name(source: str) -> str:
    return f"source:{source}"


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class AnomalyPipeline:
    """Runs ``detectors`` over ``sources``; state, cursors and alerts on ``engine``."""

    def __init__(self, engine: Engine, sources: Sequence[Source], detectors: Sequence[Detector],
                 alert: AlertFn | None = None, *, batch: int = 2000,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        names = [d.name for d in detectors]
        if len(set(names)) != len(names):
            raise ValueError(f"detector names must be unique: {names}")
        self.engine, self.sources, self.detectors = engine, list(sources), list(detectors)
        self.alert, self.batch, self.clock = alert, batch, clock
        self._state: dict[str, State] | None = None
        self._cursors: dict[str, int] = {}

    # ------------------------------------------------------------------ load
    def _load(self) -> dict[str, State]:
        values: dict[str, dict[str, object]] = {d.name: {} for d in self.detectors}
        with self.engine.connect() as conn:
            for det, key, value in conn.execute(select(StateRow.detector, StateRow.key,
                                                       StateRow.value)):
                if det in values:
                    values[det][key] = json.loads(value)
            self._cursors = {name.split(":", 1)[1]: int(pos) for name, pos in conn.execute(
                select(CursorRow.name, CursorRow.position)
                .where(CursorRow.name.like("source:%")))}
        self._state = {d: State(v) for d, v in values.items()}
        return self._state

    # ------------------------------------------------------------------ run
    def run_once(self) -> list[StoredAlert]:
        """One pass over every source's new events; returns the alerts it stored."""
        state = self._state if self._state is not None else self._load()
        try:
            moved: dict[str, tuple[int | None, int]] = {}
            events: list[Event] = []
            for src in self.sources:
                got = src.read(self._cursors.get(src.name, 0), self.batch)
                if got:
                    moved[src.name] = (self._cursors.get(src.name), got[-1][0])
                    events += [e for _, e in got if e.kind]
            events.sort(key=lambda e: e.at)
            findings: list[Finding] = []
            failed: list[tuple[str, str, str]] = []
            for e in events:
                for d in self.detectors:
                    try:
                        findings += d.observe(e, state[d.name])
                    except Exception as exc:  # noqa: BLE001 - one odd event never halts the rest
                        log.exception("detector %s failed on %s", d.name, e.key)
                        failed.append((d.name, e.key, f"{type(exc).__name__}: {str(exc)[:200]}"))
            for d in self.detectors:
                d.trim(state[d.name])
            stored = self._commit(moved, state, findings) if moved or findings else []
        except Exception:
            self._state = None  # judged against uncommitted state: start again from the store
            raise
        for name, (_, to) in moved.items():
            self._cursors[name] = to
        for st in state.values():
            st.dirty.clear()
        self.raise_pending()
        if self.alert is not None:
            for det, key, why in failed:
                self.alert(DETECTOR_ERROR, f"detector {det} failed on event {key} ({why}); "
                           "the event was judged by the other detectors only",
                           f"forensics:error:{det}:{key}"[:160])
        return stored

    def run_until_idle(self, max_runs: int = 1000) -> list[StoredAlert]:
        """Run until no source has anything new; returns every alert stored."""
        out: list[StoredAlert] = []
        for _ in range(max_runs):
            before = dict(self._cursors)
            out += self.run_once()
            if self._cursors == before:
                break
        return out

    def _commit(self, moved: dict[str, tuple[int | None, int]], state: dict[str, State],
                findings: list[Finding]) -> list[StoredAlert]:
        now = self.clock()
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            for name, (old, new) in moved.items():
                _move(conn, _cursor_name(name), old, new, now)
            for det, st in state.items():
                _save(conn, det, st)
            unique = {f.alert_key: f for f in findings}
            known: set[str] = set()
            keys = sorted(unique)
            for i in range(0, len(keys), _CHUNK):
                known |= set(conn.scalars(select(AlertRow.alert_key)
                                          .where(AlertRow.alert_key.in_(keys[i:i + _CHUNK]))))
            rows = [{"alert_key": k, "detector": f.detector, "subject": f.subject[:200],
                     "event_at": f.event.at, "detected_at": now, "summary": f.summary,
                     "evidence": json.dumps(f.evidence, sort_keys=True), "raised": False}
                    for k, f in unique.items() if k not in known]
            if rows:
                conn.execute(insert(AlertRow), rows)
        return self._alerts_by_key([r["alert_key"] for r in rows])

    # ------------------------------------------------------------------ alerts
    def raise_pending(self) -> int:
        """Raise every stored alert not raised yet to the ops outbox; returns how many."""
        if self.alert is None:
            return 0
        with self.engine.connect() as conn:
            pending = [_stored(r) for r in conn.execute(
                select(AlertRow.__table__).where(AlertRow.raised.is_(False)).order_by(AlertRow.id))]
        for a in pending:
            chain = json.dumps(a.evidence, sort_keys=True)
            if len(chain) > MAX_MESSAGE_CHAIN:
                chain = chain[:MAX_MESSAGE_CHAIN] + "... (cut; the full chain is stored)"
            self.alert(f"{ALERT_PREFIX}{a.detector}",
                       f"{a.summary}. Forensic chain: {chain} [forensics alert {a.id}]",
                       f"forensics:{a.alert_key}")
            with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                conn.execute(update(AlertRow).where(AlertRow.id == a.id).values(raised=True))
        return len(pending)

    def _alerts_by_key(self, keys: list[str]) -> list[StoredAlert]:
        if not keys:
            return []
        with self.engine.connect() as conn:
            return [_stored(r) for r in conn.execute(
                select(AlertRow.__table__).where(AlertRow.alert_key.in_(keys))
                .order_by(AlertRow.id))]


def stored_alerts(engine: Engine, *, after_id: int = 0, detector: str | None = None,
                  limit: int = 1000) -> list[StoredAlert]:
    """Stored alerts with id above ``after_id`` (optionally of one ``detector``), oldest first."""
    q = select(AlertRow.__table__).where(AlertRow.id > after_id)
    if detector is not None:
        q = q.where(AlertRow.detector == detector)
    with engine.connect() as conn:
        return [_stored(r) for r in conn.execute(q.order_by(AlertRow.id).limit(limit))]


def _stored(r: Any) -> StoredAlert:
    return StoredAlert(r.id, r.alert_key, r.detector, r.subject, _utc(r.event_at),
                       _utc(r.detected_at), r.summary, json.loads(r.evidence), bool(r.raised))


def _move(conn: Connection, name: str, old: int | None, new: int, now: datetime) -> None:
    if old is None:
        conn.execute(insert(CursorRow).values(name=name, position=new, position_hash="",
                                              updated_at=now))
        return
    n = conn.execute(update(CursorRow).where(CursorRow.name == name, CursorRow.position == old)
                     .values(position=new, updated_at=now)).rowcount
    if n != 1:
        raise PipelineMovedError(f"cursor {name} moved under this run")


def _save(conn: Connection, detector: str, st: State) -> None:
    dirty = sorted(st.dirty)
    for i in range(0, len(dirty), _CHUNK):
        chunk = dirty[i:i + _CHUNK]
        conn.execute(delete(StateRow).where(StateRow.detector == detector,
                                            StateRow.key.in_(chunk)))
        rows = [{"detector": detector, "key": k, "value": json.dumps(st.values[k])}
                for k in chunk if k in st.values]
        if rows:
            conn.execute(insert(StateRow), rows)
