"""The services' back-office loop: background threads that each repeat one pass, and the
signed webhook outbox delivery they share."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx


class Outbox(Protocol):
    """The webhook outbox a store keeps."""

    def due_webhooks(self, now: float) -> list[dict[str, Any]]:
        """Webhooks due for (re)delivery."""
        ...

    def webhook_result(self, event_id: str, *, delivered: bool, next_at: float,
                       error: str | None) -> None:
        """Record one delivery attempt."""
        ...


class ServiceWorker:
    """Runs ``step()`` (the subclass's chain pass) and ``deliver()`` (webhooks) each in its own
    thread every ``poll_s``: a slow or dead webhook endpoint never holds up the chain work.

    Subclasses set ``name`` (thread names, logger ``<name>.worker``) and ``sign`` (the headers
    authenticating a webhook body under the service's scheme).
    """

    name = "service"
    sign: Callable[[bytes, bytes], dict[str, str]]

    def __init__(self, store: Any, chain: Any, *, confirmations: int,
                 webhook_url: str | None, webhook_secret: bytes | None, webhook_backoff_s: float = 1.0,
                 poll_s: float = 0.2) -> None:
        self.store, self.chain, self.confirmations = store, chain, max(1, confirmations)
        self.webhook_url, self._secret = webhook_url, webhook_secret
        self.webhook_backoff_s, self.poll_s = webhook_backoff_s, poll_s
        self.log = logging.getLogger(f"{self.name}.worker")
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(fn,), name=f"{self.name}-{fn.__name__}",
                                          daemon=True) for fn in (self.step, self.deliver)]
        self._http = httpx.Client(timeout=5.0)

    def start(self) -> None:
        """Start the background threads."""
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop after the current steps."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, fn: Callable[[], None]) -> None:
        while not self._stop.is_set():
            try:
                fn()
            except Exception as exc:  # a node or network hiccup: try again next pass
                self.log.warning("%s failed: %s", fn.__name__, type(exc).__name__)
            self._stop.wait(self.poll_s)

    def step(self) -> None:
        """One chain pass (the subclass's)."""
        raise NotImplementedError

    def deliver(self) -> None:
        """One pass over due webhooks: POST each signed; reschedule a failure with backoff."""
        if not self.webhook_url or self._secret is None:
            return
        store: Outbox = self.store
        for hook in store.due_webhooks(time.time()):
            body = bytes(hook["body"])
            try:
                reply = self._http.post(self.webhook_url, content=body, headers={
                    "Content-Type": "application/json", **self.sign(self._secret, body)})
                ok, error = reply.is_success, f"HTTP {reply.status_code}"
            except httpx.HTTPError as exc:
                ok, error = False, type(exc).__name__
            delay = min(self.webhook_backoff_s * 2 ** hook["attempts"], 3600.0)
            store.webhook_result(hook["event_id"], delivered=ok, next_at=time.time() + delay,
                                 error=None if ok else error)
