"""Alert fixtures: a migrated ledger (SQLite and PostgreSQL, the jobs tests' ``db_url``), a local
signed-webhook receiver, a local SMTP server."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from keeper.alerts import DELIVERY_HEADER, SIGNATURE_HEADER, verify_signature
from keeper.ledger import Ledger
from strongroom_testkit import free_port


def _jobs_fixtures() -> Any:
    """The jobs tests' conftest (its ``db_url`` fixture), loaded from its file."""
    path = Path(__file__).resolve().parents[1] / "jobs" / "conftest.py"
    spec = importlib.util.spec_from_file_location("strongroom_jobs_conftest", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


_JOBS = _jobs_fixtures()
db_url = _JOBS.db_url

SECRET = b"webhook-test-secret"


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    """A ledger on a database with every domain's schema at head."""
    lg = Ledger(db_url, group_commit=False)
    yield lg
    lg.close()


@dataclass
class Receiver:
    """A webhook endpoint that checks every signature and refuses the first ``fail_first``."""

    fail_first: int = 0
    secret: bytes = SECRET
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def handle(self, headers: Any, body: bytes) -> int:
        with self.lock:
            valid = verify_signature(self.secret, headers.get(SIGNATURE_HEADER, ""), body)
            self.requests.append({"valid": valid, "body": json.loads(body),
                                  "raw": body, "signature": headers.get(SIGNATURE_HEADER),
                                  "delivery": headers.get(DELIVERY_HEADER)})
            if not valid:
                return 401
            return 500 if len(self.requests) <= self.fail_first else 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local HTTP server on loopback answering for a :class:`Receiver`."""
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(rec.handle(self.headers, body))
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # the OS picks a free port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/strongroom"
    yield rec
    server.shutdown()
    server.server_close()


class Mailbox:
    """aiosmtpd handler keeping every envelope it accepted."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    """A local SMTP server (aiosmtpd) on loopback: (mailbox, port)."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()
