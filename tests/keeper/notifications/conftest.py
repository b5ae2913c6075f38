"""Notifications fixtures: a database with every domain's schema at head (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine

from keeper.ledger.db import make_engine
from strongroom_testkit import free_port


@pytest.fixture
def db_url(database: Callable[[str], str]) -> str:
    """A database with every domain's schema at head."""
    url = database("notifications", migrated=True)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url``."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@dataclass
class Receiver:
    """A local webhook endpoint (a real HTTP server on loopback) recording every request.

    ``statuses`` are answered in turn (then 200); ``gate`` (when set) is waited on before
    answering, at most ``gate_timeout`` seconds, and whether it was set is recorded."""

    statuses: list[int] = field(default_factory=list)
    gate: threading.Event | None = None
    gate_timeout: float = 10.0
    on_request: threading.Event = field(default_factory=threading.Event)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def handle(self, headers: Any, body: bytes, path: str) -> int:
        gate_open = self.gate.wait(self.gate_timeout) if self.gate is not None else None
        with self.lock:
            self.requests.append({"headers": dict(headers), "raw": body, "path": path,
                                  "body": json.loads(body), "gate_open": gate_open})
            status = self.statuses.pop(0) if self.statuses else 200
        self.on_request.set()
        return status


@pytest.fixture
def receiver_factory() -> Iterator[Callable[..., Receiver]]:
    """``make(**fields)`` -> a started :class:`Receiver`; all are stopped afterwards."""
    servers: list[ThreadingHTTPServer] = []

    def make(**kw: Any) -> Receiver:
        rec = Receiver(**kw)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = rec.handle(self.headers, body, self.path)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        rec.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/strongroom"
        return rec

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()
