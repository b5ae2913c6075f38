"""Fixtures of the partner custody tests: one local partner service per module on the fork, a
ledger with the ledger and partners schemas, and funded fork accounts."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keeper.audit import upgrade as upgrade_audit
from keeper.ledger import Ledger
from keeper.ledger import upgrade as upgrade_ledger
from keeper.partners import PartnerCustody, upgrade
from strongroom_testkit.dbtemplate import fresh_url
from strongroom_testkit.partner import Partner, mint_usdc, start_partner

CONFIRMATIONS = 2


@pytest.fixture
def _function_isolation() -> Iterator[None]:
    """No per-test chain revert here: the module's partner service watches the chain and, like
    any real watcher, cannot follow ape's snapshot reverts between tests (ape's module isolation
    still reverts the chain after the module). Each test uses its own clients."""
    yield


@pytest.fixture(scope="module")
def payer(accounts: Any, w3: Any) -> str:
    """An unlocked fork account holding ETH and 10,000 USDC."""
    address = accounts[7].address
    mint_usdc(w3, address, 10_000 * 10**6)
    return address


@pytest.fixture(scope="module")
def home(accounts: Any) -> str:
    """Our whitelisted withdrawal destination (lower-case)."""
    return accounts[8].address.lower()


@pytest.fixture(scope="module")
def hooks() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A loopback webhook receiver: (its URL, what it received as (headers, body))."""
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            got.append((dict(self.headers.items()),
                        self.rfile.read(int(self.headers.get("Content-Length", "0")))))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/hooks/partner", got
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def partner(tmp_path_factory: pytest.TempPathFactory, rpc_url: str, home: str,
            hooks: tuple[str, list]) -> Iterator[Partner]:
    """The module's partner service (2 confirmations), sending its webhooks to ``hooks``."""
    service = start_partner(tmp_path_factory.mktemp("partner"), rpc_url, whitelist=[home],
                            extra=["--confirmations", str(CONFIRMATIONS), "--seed", "7"],
                            webhook=hooks[0])
    yield service
    service.stop()


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    """A ledger database with the partners and audit schemas."""
    url = fresh_url(Path(tmp_path_factory.mktemp('db')) / 'keeper.db')
    upgrade_ledger(url)
    upgrade_audit(url)
    upgrade(url)
    with Ledger(url, group_commit=False) as lg:
        yield lg


@pytest.fixture(scope="module")
def custody(ledger: Ledger, partner: Partner, w3: Any, home: str) -> Iterator[PartnerCustody]:
    """Our custody service of the module's partner, over the fork (our node)."""
    client = partner.client(retries=1, max_backoff_s=0.05)  # outages fail fast here
    yield PartnerCustody(ledger, client, w3, confirmations=CONFIRMATIONS, whitelist=[home])
    client.close()
