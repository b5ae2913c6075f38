"""Deliver the outbox to client webhooks: signed, retried with backoff, logged, dead-lettered.

:meth:`WebhookDispatcher.fan_out` opens one delivery per active endpoint of the event's client
(once per event: the outbox row is marked in the same transaction). :meth:`deliver_due` claims
each due delivery (compare-and-set: two dispatchers never send the same claim), POSTs it and
records the attempt in the delivery log (status code, latency, error) with the outcome: sent; or
retried after ``backoff * 2**(attempts-1)`` seconds (capped at ``max_backoff``); or dead after
``max_attempts``. A crash between a send and its record re-sends after the claim lapses
(at-least-once; receivers drop repeats by ``X-Strongroom-Delivery``, the event id).

Isolation: each endpoint's due deliveries are sent by their own worker, in order, stopping that
endpoint for the pass at its first failure; a slow or failing endpoint holds only its own worker
(for at most ``2 x timeout`` seconds, even when it trickles its answer), never another client's
deliveries.

The request: ``POST`` of ``{"id", "type", "created_at", "data"}`` (canonical JSON) with
``X-Strongroom-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`` (verify with
:func:`keeper.alerts.verify_signature`: constant time, replay window), ``X-Strongroom-Event`` and
``X-Strongroom-Delivery``. The connection goes to the address :func:`check_url` just approved
(TLS still verifies the URL's host name); redirects are not followed; answers are never read.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine, Row, func, insert, or_, select, update

from keeper.alerts import sign
from keeper.notifications.endpoints import endpoint_secret
from keeper.notifications.models import AttemptRow, Delivery, DeliveryStatus, EndpointRow, OutboxRow
from keeper.notifications.targets import (
    Resolver,
    Target,
    TargetRefused,
    check_url,
    system_resolver,
)

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Strongroom-Signature"
EVENT_HEADER = "X-Strongroom-Event"
DELIVERY_HEADER = "X-Strongroom-Delivery"
USER_AGENT = "Strongroom-Webhooks/1"
# an attempt ends at DEADLINE_FACTOR x timeout whatever the endpoint does (httpx's timeouts are
# per operation: an answer trickled one byte at a time would otherwise hold the pass for ever)
DEADLINE_FACTOR = 2
_O, _EP, _D, _A = (OutboxRow.__table__, EndpointRow.__table__, Delivery.__table__,
                   AttemptRow.__table__)


def event_body(event_id: str, event: str, created_at: datetime, payload: str) -> bytes:
    """The canonical JSON body of an event (``payload`` is the outbox's canonical JSON)."""
    return json.dumps({"id": event_id, "type": event, "created_at": created_at.isoformat(),
                       "data": json.loads(payload)}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one HTTP attempt gave: status code (None: no answer), latency, error (safe text)."""

    status_code: int | None
    latency_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        """Whether the endpoint accepted the event (2xx)."""
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookDispatcher:
    """Fans the outbox out to endpoints and delivers what is due (see module docstring)."""

    def __init__(self, engine: Engine, master: bytes, *, max_attempts: int = 8,
                 backoff: float = 30.0, max_backoff: float = 3600.0, timeout: float = 5.0,
                 claim_seconds: float = 60.0, batch: int = 200, per_endpoint: int = 20,
                 workers: int = 8, allow_loopback: bool = False,
                 resolve: Resolver = system_resolver) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if claim_seconds <= DEADLINE_FACTOR * timeout:
            raise ValueError(f"claim_seconds must exceed {DEADLINE_FACTOR} x the request timeout")
        self.engine = engine
        self.master = master
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.claim_seconds = claim_seconds
        self.batch = batch
        self.per_endpoint = per_endpoint
        self.workers = workers
        self.allow_loopback = allow_loopback
        self.resolve = resolve

    def __repr__(self) -> str:
        return f"WebhookDispatcher(max_attempts={self.max_attempts}, backoff={self.backoff})"

    def dispatch_once(self, now: datetime | None = None) -> int:
        """Fan out new events, then deliver what is due; returns deliveries that succeeded."""
        self.fan_out(now)
        return self.deliver_due(now)

    # ------------------------------------------------------------- fan-out
    def fan_out(self, now: datetime | None = None, *, limit: int = 10_000) -> int:
        """Open a delivery per active endpoint for new events (up to ``limit``, ``batch`` at a
        time: database work only, so one client's burst cannot hold back another's events);
        returns events taken (each by exactly one dispatcher)."""
        now = now or datetime.now(UTC)
        taken = 0
        while taken < limit:
            got = self._fan_out_batch(now)
            if not got:
                return taken
            taken += got
        return taken

    def _fan_out_batch(self, now: datetime) -> int:
        with self.engine.connect() as conn:
            new = conn.execute(select(_O.c.id, _O.c.client_id).where(_O.c.fanned_at.is_(None))
                               .order_by(_O.c.id).limit(self.batch)).all()
        taken = 0
        for outbox_id, client_id in new:
            with self.engine.begin() as conn:
                if not conn.execute(update(_O).where(_O.c.id == outbox_id, _O.c.fanned_at.is_(None))
                                    .values(fanned_at=now)).rowcount:
                    continue  # another dispatcher took it
                endpoints = conn.scalars(select(_EP.c.id).where(
                    _EP.c.client_id == client_id, _EP.c.active.is_(True)).order_by(_EP.c.id)).all()
                for endpoint_id in endpoints:
                    conn.execute(insert(_D).values(
                        outbox_id=outbox_id, endpoint_id=endpoint_id, client_id=client_id,
                        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now))
            taken += 1
        return taken

    # ------------------------------------------------------------- delivery
    def deliver_due(self, now: datetime | None = None) -> int:
        """Attempt due deliveries of up to ``batch`` endpoints (those waiting longest first), at
        most ``per_endpoint`` each, one worker per endpoint; returns how many were accepted.

        Fair share: a client's backlog takes at most ``per_endpoint`` sends of a pass and never
        keeps another endpoint's deliveries out of it."""
        now = now or datetime.now(UTC)
        d = _D.c
        due = (or_(d.status == DeliveryStatus.PENDING, d.status == DeliveryStatus.SENDING),
               d.next_attempt_at <= now, _EP.c.active.is_(True))
        first = func.min(d.next_attempt_at)
        rank = func.row_number().over(partition_by=d.endpoint_id,
                                      order_by=(d.next_attempt_at, d.id)).label("rank")
        with self.engine.connect() as conn:
            endpoints = conn.scalars(
                select(d.endpoint_id).join(_EP, _EP.c.id == d.endpoint_id).where(*due)
                .group_by(d.endpoint_id).order_by(first, d.endpoint_id).limit(self.batch)).all()
            if not endpoints:
                return 0
            ranked = (select(d.id, d.endpoint_id, d.attempts, d.next_attempt_at, _O.c.event_id,
                             _O.c.event, _O.c.payload, _O.c.created_at, _EP.c.url, _EP.c.salt,
                             rank)
                      .join(_O, _O.c.id == d.outbox_id).join(_EP, _EP.c.id == d.endpoint_id)
                      .where(*due, d.endpoint_id.in_(endpoints)).subquery())
            rows = conn.execute(select(ranked).where(ranked.c.rank <= self.per_endpoint)
                                .order_by(ranked.c.next_attempt_at, ranked.c.id)).all()
        groups: dict[str, list[Row]] = {}
        for row in rows:
            groups.setdefault(row.endpoint_id, []).append(row)
        with ThreadPoolExecutor(min(self.workers, len(groups)),
                                thread_name_prefix="webhooks") as pool:
            return sum(pool.map(lambda rs: self._endpoint_pass(rs, now), groups.values()))

    def _endpoint_pass(self, rows: Iterable[Row], now: datetime) -> int:
        """Deliver one endpoint's rows in order; stop at its first failure."""
        sent = 0
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False,
                              trust_env=False) as client:
                for row in rows:
                    if not self._claim(row, now):
                        continue
                    outcome = self._send_bounded(client, row)
                    self._record(row, outcome, now)
                    if not outcome.ok:
                        break
                    sent += 1
        except Exception:  # noqa: BLE001 - one endpoint's trouble never stops the others
            log.exception("webhook delivery pass failed")
        return sent

    def _claim(self, row: Row, now: datetime) -> bool:
        until = now + timedelta(seconds=self.claim_seconds)
        with self.engine.begin() as conn:
            return bool(conn.execute(update(_D).where(
                _D.c.id == row.id, _D.c.attempts == row.attempts, _D.c.next_attempt_at <= now,
                _D.c.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]))
                .values(status=DeliveryStatus.SENDING, next_attempt_at=until)).rowcount)

    def _send_bounded(self, client: httpx.Client, row: Row) -> Outcome:
        """:meth:`_send` cut at the attempt deadline: a request still running then is left to
        its (daemon) thread, its answer ignored, and the attempt recorded as failed."""
        box: list[Outcome] = []
        deadline = DEADLINE_FACTOR * self.timeout

        def run() -> None:
            try:
                box.append(self._send(client, row))
            except Exception:  # noqa: BLE001 - e.g. the client closed under an abandoned request
                box.append(Outcome(None, int(deadline * 1000), "send failed"))

        worker = threading.Thread(target=run, name="webhook-send", daemon=True)
        worker.start()
        worker.join(deadline)
        return box[0] if box else Outcome(None, int(deadline * 1000), "deadline exceeded")

    def _send(self, client: httpx.Client, row: Row) -> Outcome:
        body = event_body(row.event_id, row.event, _utc(row.created_at), row.payload)
        ts = int(time.time())
        secret = endpoint_secret(self.master, row.salt).encode()
        started = time.monotonic()
        try:
            target = check_url(row.url, allow_loopback=self.allow_loopback, resolve=self.resolve)
            request = _request(client, target, body, {
                "Content-Type": "application/json", "User-Agent": USER_AGENT,
                EVENT_HEADER: row.event, DELIVERY_HEADER: row.event_id,
                SIGNATURE_HEADER: f"t={ts},v1={sign(secret, ts, body)}"})
            response = client.send(request, stream=True)
            response.close()  # never read: a hostile endpoint cannot make us buffer its answer
            status, error = response.status_code, None
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except TargetRefused as exc:
            status, error = None, f"refused: {exc}"
        except httpx.HTTPError as exc:
            status, error = None, type(exc).__name__
        return Outcome(status, int((time.monotonic() - started) * 1000), error)

    def _record(self, row: Row, outcome: Outcome, now: datetime) -> None:
        attempts = row.attempts + 1
        if outcome.ok:
            values = {"status": DeliveryStatus.SENT, "delivered_at": datetime.now(UTC),
                      "last_error": None}
        elif attempts >= self.max_attempts:
            values = {"status": DeliveryStatus.DEAD, "last_error": outcome.error}
        else:
            delay = min(self.backoff * 2 ** (attempts - 1), self.max_backoff)
            values = {"status": DeliveryStatus.PENDING, "last_error": outcome.error,
                      "next_attempt_at": now + timedelta(seconds=delay)}
        with self.engine.begin() as conn:
            if not conn.execute(update(_D).where(
                    _D.c.id == row.id, _D.c.attempts == row.attempts,
                    _D.c.status == DeliveryStatus.SENDING)
                    .values(attempts=attempts, **values)).rowcount:
                return  # the claim lapsed and another dispatcher took over: its record counts
            conn.execute(insert(_A).values(
                delivery_id=row.id, attempt=attempts, status_code=outcome.status_code,
                latency_ms=outcome.latency_ms, error=outcome.error, at=datetime.now(UTC)))


def _request(client: httpx.Client, target: Target, body: bytes,
             headers: dict[str, str]) -> httpx.Request:
    """A POST to ``target``'s checked address naming its host (Host header and TLS SNI)."""
    url = httpx.URL(target.url).copy_with(host=target.address)
    default_port = 443 if target.scheme == "https" else 80
    host = target.host if ":" not in target.host else f"[{target.host}]"
    headers = {**headers, "Host": host if target.port == default_port else f"{host}:{target.port}"}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return client.build_request("POST", url, content=body, headers=headers, extensions=extensions)
