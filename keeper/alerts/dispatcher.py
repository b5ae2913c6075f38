"""Deliver the ledger's alerts (the outbox) on every channel: once each, retried, audited.

:meth:`AlertDispatcher.collect` copies alerts the ledger recorded (``Ledger.raise_alert``, which
already deduplicates by ``ref``) into ``alerts_events`` under a stable key and opens one
``alerts_deliveries`` row per channel, in one transaction. It reads only the alerts above its
high-water mark, and beyond ``per_kind_per_hour`` alerts of one kind in an hour it sends one
digest at the end of the hour instead of one message each (alerts an outsider can cause, such as
one per spam log, never flood the channels). :meth:`AlertDispatcher.deliver_due`
claims each due delivery (compare-and-set: two dispatchers never send the same claim), sends it,
and records the outcome: sent; or retried after ``backoff * 2**(attempts-1)`` seconds (capped);
or dead after ``max_attempts`` (a dead letter, itself raised as an ``alert_dead_letter`` alert).

Every delivery record written (opened, sent, retried, dead) calls ``audit(conn, actor,
operation, params, result)`` in that record's own transaction: the record and its audit entry
commit together or not at all. A crash between a send and its record re-sends after the claim
lapses (at-least-once on the wire; receivers drop repeats by the alert key).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from keeper.alerts.channels import AlertMessage, Channel, DeliveryFailed
from keeper.alerts.models import AlertEvent, Delivery, DeliveryStatus
from keeper.ledger import Ledger
from keeper.ledger.db import WRITE

log = logging.getLogger(__name__)
AuditFn = Callable[[Connection, str, str, dict[str, Any], dict[str, Any]], object]
DEAD_LETTER = "alert_dead_letter"
DIGEST = "alert_digest"
_E, _D = AlertEvent.__table__, Delivery.__table__


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One alert's delivery on one channel (read-only view)."""

    key: str
    kind: str
    channel: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def alert_keys(alerts: Sequence[tuple[str, str, str | None]]) -> list[str]:
    """Stable keys of the ledger's alerts (oldest first): ``ref:<ref>`` when the alert has a ref
    (unique in the ledger), else the n-th alert with that kind and message (identical alerts are
    interchangeable, so the keys hold whatever order concurrent writers committed them in)."""
    seen: dict[str, int] = {}
    keys = []
    for kind, message, ref in alerts:
        if ref:
            keys.append(f"ref:{ref}")
            continue
        digest = hashlib.sha256(f"{kind}\0{message}".encode()).hexdigest()[:40]
        n = seen[digest] = seen.get(digest, 0) + 1
        keys.append(f"msg:{digest}:{n}")
    return keys


class AlertDispatcher:
    """Takes the ledger's alerts and delivers each once per channel (see module docstring)."""

    def __init__(self, ledger: Ledger, channels: Sequence[Channel], *,
                 audit: AuditFn | None = None, max_attempts: int = 8, backoff: float = 30.0,
                 max_backoff: float = 3600.0, claim_seconds: float = 120.0,
                 batch: int = 200, actor: str = "keeper.alerts", per_kind_per_hour: int = 20,
                 collect_batch: int = 1000) -> None:
        names = [c.name for c in channels]
        if len(set(names)) != len(names) or not all(names):
            raise ValueError(f"channel names must be unique and non-empty: {names}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.ledger = ledger
        self.engine = ledger.engine
        self.channels = {c.name: c for c in channels}
        self.audit = audit
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.claim_seconds = claim_seconds
        self.batch = batch
        self.actor = actor
        self.per_kind_per_hour = per_kind_per_hour
        self.collect_batch = collect_batch

    def dispatch_once(self, now: datetime | None = None) -> int:
        """Collect new alerts, then deliver what is due; returns deliveries that succeeded."""
        self.collect(now)
        return self.deliver_due(now)

    # ------------------------------------------------------------- outbox
    def collect(self, now: datetime | None = None) -> int:
        """Open deliveries for alerts not collected before; returns how many alerts were new.

        Reads the ledger's alerts above the high-water mark (the largest ledger alert id
        collected), a bounded number per pass. Beyond ``per_kind_per_hour`` alerts of one kind in
        a clock hour, the rest are recorded as suppressed (no deliveries of their own) and one
        ``alert_digest`` event per kind and hour, delivered when the hour ends, counts them: an
        outsider who makes the follower raise an alert per spam log cannot flood the channels.
        """
        now = _utc(now or datetime.now(UTC))
        hwm = self._high_water_mark()
        new = self.ledger.alerts_after(hwm, self.collect_batch)
        if not new:
            return 0
        try:  # BEGIN IMMEDIATE on SQLite: the pass reads counts, then writes
            with self.engine.execution_options(**WRITE).begin() as conn:
                counts: dict[str, int] = {}
                hour = now.replace(minute=0, second=0, microsecond=0)
                for ledger_id, kind, message, ref in new:
                    key = f"ref:{ref}" if ref else f"ledger:{ledger_id}"
                    if kind not in counts:
                        counts[kind] = self._sent_this_hour(conn, kind, hour)
                    suppress = (kind not in (DEAD_LETTER, DIGEST)
                                and counts[kind] >= self.per_kind_per_hour)
                    counts[kind] += not suppress
                    self._open_event(conn, key, kind, message, ref, now, ledger_id,
                                     suppressed=suppress)
                    if suppress:
                        self._open_digest(conn, kind, hour)
        except IntegrityError:  # another dispatcher collected them first
            return 0
        return len(new)

    def _high_water_mark(self) -> int:
        """The largest ledger alert id collected; for events collected before ids were kept,
        the id of the newest ledger alert whose (old-style) key is known."""
        with self.engine.connect() as conn:
            hwm = conn.scalar(select(func.max(_E.c.ledger_alert_id)))
            if hwm is not None:
                return int(hwm)
            legacy = set(conn.scalars(select(_E.c.key).where(_E.c.ledger_alert_id.is_(None))))
        if not legacy:
            return 0
        rows = self.ledger.alerts_after(0, limit=2**62)
        keys = alert_keys([(k, m, r) for _, k, m, r in rows])
        return max((row[0] for row, key in zip(rows, keys, strict=True) if key in legacy),
                   default=0)

    def _sent_this_hour(self, conn: Connection, kind: str, hour: datetime) -> int:
        """Events of ``kind`` created in the clock hour starting at ``hour`` and not suppressed."""
        e = _E.c
        return int(conn.scalar(select(func.count()).select_from(_E).where(
            e.kind == kind, e.suppressed.is_(False), e.created_at >= hour,
            e.created_at < hour + timedelta(hours=1))) or 0)

    def _open_event(self, conn: Connection, key: str, kind: str, message: str, ref: str | None,
                    now: datetime, ledger_id: int | None, *, suppressed: bool = False,
                    deliver_at: datetime | None = None) -> None:
        """Insert one event and (unless suppressed) its per-channel deliveries, audited."""
        event_id = conn.execute(insert(_E).values(
            key=key, kind=kind, message=message, ref=ref, created_at=now,
            ledger_alert_id=ledger_id, suppressed=suppressed).returning(_E.c.id)).scalar_one()
        if suppressed:
            self._audit(conn, "alert.suppress", {"alert": key, "kind": kind, "ref": ref},
                        {"status": "suppressed"})
            return
        for channel in self.channels:
            conn.execute(insert(_D).values(
                event_id=event_id, channel=channel, status=DeliveryStatus.PENDING,
                attempts=0, next_attempt_at=deliver_at or now))
            self._audit(conn, "alert.enqueue",
                        {"alert": key, "kind": kind, "ref": ref, "channel": channel},
                        {"status": DeliveryStatus.PENDING})

    def _open_digest(self, conn: Connection, kind: str, hour: datetime) -> None:
        """The digest event of ``kind`` for the hour starting at ``hour`` (once), due at its end."""
        key = f"digest:{kind}:{hour.isoformat()}"
        if conn.scalar(select(_E.c.id).where(_E.c.key == key)) is None:
            self._open_event(conn, key, DIGEST, f"{kind}", None, hour, None,
                             deliver_at=hour + timedelta(hours=1))

    def _digest_message(self, kind: str, hour: datetime) -> str:
        """What a digest says, counted when it is sent (the hour is over by then)."""
        e = _E.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(e.message).where(
                e.kind == kind, e.suppressed.is_(True), e.created_at >= hour,
                e.created_at < hour + timedelta(hours=1)).order_by(e.id)).scalars().all()
        if not rows:
            return f"no further {kind!r} alerts after the first {self.per_kind_per_hour}"
        return (f"{len(rows)} more {kind!r} alerts between {hour.isoformat()} and "
                f"{(hour + timedelta(hours=1)).isoformat()} were not sent one by one (more than "
                f"{self.per_kind_per_hour} in the hour); first: {rows[0]}; last: {rows[-1]}")

    # ------------------------------------------------------------- delivery
    def deliver_due(self, now: datetime | None = None) -> int:
        """Attempt up to ``batch`` deliveries due at ``now`` on configured channels, oldest
        first, stopping a channel for this pass at its first failure; returns how many were
        sent."""
        now = now or datetime.now(UTC)
        d, e = _D.c, _E.c
        with self.engine.connect() as conn:
            due = conn.execute(
                select(d.id, d.channel, d.attempts, d.status, d.next_attempt_at, e.key, e.kind,
                       e.message, e.ref, e.created_at)
                .join(_E, e.id == d.event_id)
                .where(or_(d.status == DeliveryStatus.PENDING, d.status == DeliveryStatus.SENDING),
                       d.next_attempt_at <= now, d.channel.in_(list(self.channels)))
                .order_by(d.next_attempt_at, d.id).limit(self.batch)).all()
        sent, failing = 0, set()
        for row in due:
            if row.channel in failing:  # one failed try per channel and pass: a slow or dead
                continue  # endpoint costs one timeout, not one per waiting alert
            message = (self._digest_message(row.message, _utc(row.created_at))
                       if row.kind == DIGEST else row.message)
            alert = AlertMessage(row.key, row.kind, message, row.ref, _utc(row.created_at))
            attempt = self._claim(row, now)
            if attempt is None:
                continue
            if self._attempt(row.id, row.channel, alert, attempt, now):
                sent += 1
            else:
                failing.add(row.channel)
        return sent

    def _claim(self, row: Any, now: datetime) -> int | None:
        """Take delivery ``row`` for one attempt (counted now, so a crash mid-send counts)."""
        c = _D.c
        attempt = row.attempts + 1
        with self.engine.begin() as conn:
            took = conn.execute(update(_D).where(
                c.id == row.id, c.status == row.status, c.attempts == row.attempts)
                .values(status=DeliveryStatus.SENDING, attempts=attempt,
                        next_attempt_at=now + timedelta(seconds=self.claim_seconds))).rowcount
        return attempt if took == 1 else None

    def _attempt(self, delivery_id: int, channel: str, alert: AlertMessage, attempt: int,
                 now: datetime) -> bool:
        """Send one claimed delivery and record the outcome; whether it was sent."""
        try:
            self.channels[channel].send(alert)
        except Exception as exc:  # noqa: BLE001 - any channel failure is retried
            error = str(exc) if isinstance(exc, DeliveryFailed) else type(exc).__name__
            dead = attempt >= self.max_attempts
            delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
            status = DeliveryStatus.DEAD if dead else DeliveryStatus.PENDING
            self._record(delivery_id, channel, alert, attempt, status, error,
                         now + timedelta(seconds=delay))
            log.log(logging.ERROR if dead else logging.WARNING,
                    "alert %s on %s: attempt %d failed (%s)%s", alert.key, channel, attempt,
                    error, "; dead-lettered" if dead else f"; retry in {delay:.0f} s")
            if dead and alert.kind != DEAD_LETTER:
                self.ledger.raise_alert(DEAD_LETTER, f"alert {alert.kind} ({alert.key}) could not "
                                        f"be delivered on {channel} after {attempt} attempts: "
                                        f"{error}", f"dead:{channel}:{alert.key}"[:160])
            return False
        self._record(delivery_id, channel, alert, attempt, DeliveryStatus.SENT, None, now)
        return True

    def _record(self, delivery_id: int, channel: str, alert: AlertMessage, attempt: int,
                status: str, error: str | None, next_at: datetime) -> None:
        c = _D.c
        values: dict[str, Any] = {"status": status, "last_error": error, "next_attempt_at": next_at}
        if status == DeliveryStatus.SENT:
            values["delivered_at"] = datetime.now(UTC)
        with self.engine.begin() as conn:
            n = conn.execute(update(_D).where(c.id == delivery_id, c.attempts == attempt,
                                              c.status == DeliveryStatus.SENDING)
                             .values(**values)).rowcount
            if n != 1:  # our claim lapsed and another dispatcher took the delivery over
                log.warning("alert %s on %s: claim lost before its outcome was recorded",
                            alert.key, channel)
                return
            self._audit(conn, "alert.deliver",
                        {"alert": alert.key, "kind": alert.kind, "ref": alert.ref,
                         "channel": channel, "attempt": attempt},
                        {"status": status, "error": error})

    def _audit(self, conn: Connection, operation: str, params: dict[str, Any],
               result: dict[str, Any]) -> None:
        if self.audit is not None:
            self.audit(conn, self.actor, operation, params, result)

    # ------------------------------------------------------------- reads
    def deliveries(self) -> list[DeliveryRecord]:
        """Every delivery record, oldest alert first (suppressed alerts have none)."""
        d, e = _D.c, _E.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(e.key, e.kind, d.channel, d.status, d.attempts,
                                       d.next_attempt_at, d.last_error)
                                .join(_E, e.id == d.event_id).order_by(d.id)).all()
        return [DeliveryRecord(r.key, r.kind, r.channel, r.status, r.attempts,
                               _utc(r.next_attempt_at), r.last_error) for r in rows]
