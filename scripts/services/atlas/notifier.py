"""Delivers the outbox of fiat deposit notifications to the platform (spec 004 §8.2).

``POST {platform}/stablecoin/notify-deposit`` with the spec's JSON. A 2xx records the
platform's answer (``accepted``); a 400 (customer not onboarded) or 403 (compliance hold) is
final and recorded as ``rejected`` with the answer; a 5xx, a timeout or a refused connection is
retried with exponential backoff (``backoff_s * 2**attempt``, capped) up to ``max_attempts``,
then ``failed`` for operations. The outbox is in the database, so a restart resumes delivery;
the platform is idempotent on ``transaction_id``, so a repeat after a lost answer is harmless.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from scripts.services.atlas.store import Store, notifications, utcnow

log = logging.getLogger("atlas.notifier")
MAX_BACKOFF_S = 900.0  # the spec's longest GL retry step; no notification waits longer
BATCH = 100  # notifications tried per pass
MAX_ANSWER = 64 * 1024  # bytes of the platform's answer kept


class Notifier:
    """A background thread draining the notification outbox."""

    def __init__(self, store: Store, platform_url: str, *, backoff_s: float = 1.0,
                 max_attempts: int = 8, timeout_s: float = 5.0, api_key: str | None = None,
                 poll_s: float = 0.05) -> None:
        self.store, self.url = store, platform_url.rstrip("/") + "/stablecoin/notify-deposit"
        self.backoff_s, self.max_attempts, self.poll_s = backoff_s, max_attempts, poll_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(timeout=timeout_s, headers=headers)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="atlas-notifier", daemon=True)

    def start(self) -> None:
        """Start delivering."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current attempt."""
        self._stop.set()
        self._thread.join(timeout=10)
        self.http.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.deliver_due()
            except Exception:  # noqa: BLE001 - the loop must outlive any one failure
                log.exception("notification pass failed")
                busy = False
            if not busy:
                self._stop.wait(self.poll_s)

    def deliver_due(self) -> bool:
        """Try every notification due now once; True if any was tried."""
        with self.store.read() as conn:
            due = conn.execute(select(notifications.c.transaction_id, notifications.c.payload,
                                      notifications.c.attempts)
                               .where(notifications.c.status == "pending",
                                      notifications.c.next_attempt_at <= utcnow())
                               .order_by(notifications.c.next_attempt_at).limit(BATCH)).all()
        for tx, payload, attempts in due:
            self._attempt(tx, payload, attempts)
        return bool(due)

    def _attempt(self, tx: str, payload: dict[str, object], attempts: int) -> None:
        attempts += 1
        values: dict[str, object] = {"attempts": attempts}
        try:
            resp = self.http.post(self.url, json=payload)
            code = resp.status_code
            try:
                answer = resp.json() if len(resp.content) <= MAX_ANSWER else {"body": "(too long)"}
            except ValueError:
                answer = {"body": resp.text[:500]}
        except httpx.HTTPError as exc:
            code, answer = None, {"error": type(exc).__name__}
        values.update(http_status=code, answer=answer)
        if code is not None and 200 <= code < 300:
            values["status"] = "accepted"
        elif code is not None and 400 <= code < 500 and code not in (408, 429):
            values["status"] = "rejected"
        elif attempts % self.max_attempts == 0:  # each (re)send gets max_attempts tries
            values["status"] = "failed"
            log.error("deposit notification %s failed after %d attempts", tx, attempts)
        else:
            delay = min(self.backoff_s * 2 ** (attempts - 1), MAX_BACKOFF_S)
            values["next_attempt_at"] = utcnow() + timedelta(seconds=delay)
        with self.store.write() as conn:
            conn.execute(update(notifications).where(notifications.c.transaction_id == tx)
                         .values(**values))
