"""Fixtures of the issuer tests: the local issuer service as a real subprocess on the fork,
its client, and a webhook receiver that records what it gets."""

from __future__ import annotations

import http.server
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from keeper.integrations.issuer import IssuerClient
from keeper.keys.secrets import Secret, write_secret_file
from scripts.services.issuer.chain import configure_minter_on_fork
from strongroom_testkit import free_port, mine

ROOT = Path(__file__).resolve().parents[3]
ALLOWANCE = 10**9 * 10**6  # one billion USDC


@dataclass
class Issuer:
    """A running issuer service and the ways a test talks to it."""

    proc: subprocess.Popen[bytes]
    url: str
    address: str
    client: IssuerClient
    admin_token: str
    log: Path
    args: list[str]

    def admin(self, method: str, path: str, json: Any = None) -> httpx.Response:
        """Call the admin API."""
        return httpx.request(method, self.url + path, json=json, timeout=30,
                             headers={"X-Admin-Token": self.admin_token})

    def set_faults(self, **config: Any) -> None:
        """Replace the fault configuration."""
        reply = self.admin("PUT", "/admin/faults", config)
        assert reply.status_code == 200, reply.text

    def stop(self) -> None:
        """Terminate the process."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.client.close()


@dataclass
class Receiver:
    """A loopback webhook endpoint: answers the first ``fail_first`` posts with 500."""

    url: str = ""
    fail_first: int = 0
    received: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)


def _write(path: Path, value: str) -> Path:
    write_secret_file(path, value)
    return path


def start_issuer(tmp: Path, rpc_url: str, *, key: str, extra: list[str], db: Path | None = None,
                 port: int | None = None) -> Issuer:
    """Start ``python -m scripts.services.issuer`` and wait until it answers."""
    api_key, admin_token = secrets.token_hex(16), secrets.token_hex(16)
    port = port or free_port()
    own = tmp / f"issuer-{port}"  # this start's secret files
    args = ["--port", str(port), "--db", str(db or tmp / "issuer.db"), "--rpc", rpc_url,
            "--minter-key-file", str(_write(own / "minter.key", key)),
            "--api-key-file", str(_write(own / "api.key", api_key)),
            "--admin-token-file", str(_write(own / "admin.token", admin_token)), *extra]
    log = tmp / f"issuer-{port}.log"
    proc = subprocess.Popen([sys.executable, "-m", "scripts.services.issuer", *args], cwd=ROOT,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"issuer exited: {log.read_text()[-3000:]}")
        try:
            health = httpx.get(url + "/health", timeout=2).json()
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"issuer did not start: {log.read_text()[-3000:]}") from None
            time.sleep(0.2)
    client = IssuerClient(url, Secret(api_key), timeout_s=30, retries=3, backoff_s=0.05)
    return Issuer(proc, url, health["redemption_address"], client, admin_token, log, args)


@pytest.fixture
def minter_key(rpc_url: str) -> str:
    """A fresh secp256k1 key, configured as a USDC minter on the fork."""
    account = Account.create()
    configure_minter_on_fork(rpc_url, account.address, ALLOWANCE)
    return "0x" + bytes(account.key).hex()


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
