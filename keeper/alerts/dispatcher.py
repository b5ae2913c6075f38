"""Deliver the ledger's alerts (the outbox) on every channel: once each, retried, audited.

:meth:`AlertDispatcher.collect` copies alerts the ledger recorded (``Ledger.raise_alert``, which
already deduplicates by ``ref``) into ``alerts_events`` under a stable key and opens one
``alerts_deliveries`` row per channel, in one transaction. :meth:`AlertDispatcher.deliver_due`
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

from sqlalchemy import Connection, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from keeper.alerts.channels import AlertMessage, Channel, DeliveryFailed
from keeper.alerts.models import AlertEvent, Delivery, DeliveryStatus
from keeper.ledger import Ledger

log = logging.getLogger(__name__)
AuditFn = Callable[[Connection, str, str, dict[str, Any], dict[str, Any]], object]
DEAD_LETTER = "alert_dead_letter"
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
                 batch: int = 200, actor: str = "keeper.alerts") -> None:
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

    def dispatch_once(self, now: datetime | None = None) -> int:
        """Collect new alerts, then deliver what is due; returns deliveries that succeeded."""
        self.collect(now)
        return self.deliver_due(now)

    # ------------------------------------------------------------- outbox
    def collect(self, now: datetime | None = None) -> int:
        """Open deliveries for alerts not collected before; returns how many alerts were new."""
        now = now or datetime.now(UTC)
        alerts = self.ledger.alerts()
        keyed = dict(zip(alert_keys(alerts), alerts, strict=True))
        with self.engine.connect() as conn:
            known = set(conn.scalars(select(_E.c.key)))
        new = [(k, a) for k, a in keyed.items() if k not in known]
        if not new:
            return 0
        try:
            with self.engine.begin() as conn:
                for key, (kind, message, ref) in new:
                    event_id = conn.execute(insert(_E).values(
                        key=key, kind=kind, message=message, ref=ref, created_at=now)
                        .returning(_E.c.id)).scalar_one()
                    for channel in self.channels:
                        conn.execute(insert(_D).values(
                            event_id=event_id, channel=channel, status=DeliveryStatus.PENDING,
                            attempts=0, next_attempt_at=now))
                        self._audit(conn, "alert.enqueue",
                                    {"alert": key, "kind": kind, "ref": ref, "channel": channel},
                                    {"status": DeliveryStatus.PENDING})
        except IntegrityError:  # another dispatcher collected them first
            return 0
        return len(new)

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
            alert = AlertMessage(row.key, row.kind, row.message, row.ref, _utc(row.created_at))
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
        """Every delivery record, oldest alert first."""
        d, e = _D.c, _E.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(e.key, e.kind, d.channel, d.status, d.attempts,
                                       d.next_attempt_at, d.last_error)
                                .join(_E, e.id == d.event_id).order_by(d.id)).all()
        return [DeliveryRecord(r.key, r.kind, r.channel, r.status, r.attempts,
                               _utc(r.next_attempt_at), r.last_error) for r in rows]
