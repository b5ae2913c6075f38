"""Fixtures of the issuer tests: the local issuer service as a real subprocess on the fork,
its client, and a webhook receiver that records what it gets."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from strongroom_testkit import mine
from strongroom_testkit.services import Issuer, fork_minter_key, start_issuer

ALLOWANCE = 10**9 * 10**6  # one billion USDC


@dataclass
class Receiver:
    """A loopback webhook endpoint: answers the first ``fail_first`` posts with 500."""

    url: str = ""
    fail_first: int = 0
    received: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)


@pytest.fixture
def minter_key(rpc_url: str) -> str:
    """A fresh secp256k1 key, configured as a USDC minter on the fork."""
    return fork_minter_key(rpc_url, ALLOWANCE)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on a free loopback port."""
    state = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            code = 500 if len(state.received) < state.fail_first else 200
            state.received.append((dict(self.headers.items()), body, code))
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/issuer"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def issuer_factory(tmp_path: Path, rpc_url: str, minter_key: str) -> Iterator[Callable[..., Issuer]]:
    """``issuer_factory(*extra_cli_args, db=, key=)`` starts a service (2 confirmations, the
    configured ``minter_key`` unless ``key`` is given); every one is stopped after the test."""
    started: list[Issuer] = []

    def _start(*extra: str, db: Path | None = None, key: str | None = None) -> Issuer:
        issuer = start_issuer(tmp_path, rpc_url, key=key or minter_key, db=db,
                              extra=["--confirmations", "2", *extra])
        started.append(issuer)
        return issuer

    yield _start
    for issuer in started:
        issuer.stop()


@pytest.fixture
def issuer(issuer_factory: Callable[..., Issuer]) -> Issuer:
    """A service without injected faults."""
    return issuer_factory()


@pytest.fixture
def settle(w3: Any) -> Callable[..., Any]:
    """``settle(read, done)``: mine a block and re-read until ``done(value)``; returns the value."""

    def _settle(read: Callable[[], Any], done: Callable[[Any], bool], rounds: int = 300) -> Any:
        value = read()
        for _ in range(rounds):
            if done(value):
                return value
            mine(w3)
            time.sleep(0.1)
            value = read()
        raise AssertionError(f"never settled: {value!r}")

    return _settle
