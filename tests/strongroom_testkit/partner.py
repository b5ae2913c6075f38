"""The local custody partner (``python -m scripts.services.partner``) as a real subprocess, and
helpers to fund its sub-account addresses on the fork.

:func:`start_partner` starts one on a free port with its own database and 0600 key files;
:class:`Partner` holds its client, admin calls and stop. :func:`mint_usdc` gives an unlocked
fork account USDC (it becomes a minter by impersonating the masterMinter);
:func:`send_token` / :func:`send_eth` move funds from an unlocked fork account.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from eth_utils import to_checksum_address

from keeper.assets import USDC
from keeper.chain.calldata import erc20_transfer
from keeper.config import ROOT
from keeper.keys.secrets import Secret, write_secret_file
from keeper.partners import WarpClient
from strongroom_testkit import free_port
from strongroom_testkit.processes import kill, terminate, wait_healthy


@dataclass
class Partner:
    """A running partner service and the ways a test talks to it."""

    proc: subprocess.Popen[bytes]
    url: str
    api_key: str
    admin_token: str
    webhook_secret: str
    log: Path
    argv: list[str]

    def client(self, **options: Any) -> WarpClient:
        """A new API client (fast backoff unless ``options`` say otherwise)."""
        return WarpClient(self.url, Secret(self.api_key),
                          **{"retries": 2, "backoff_s": 0.05, "timeout_s": 10.0, **options})

    def admin(self, method: str, path: str, json: Any = None) -> Any:
        """Call the admin API; returns the JSON reply."""
        reply = httpx.request(method, self.url + path, json=json, timeout=30,
                              headers={"X-Admin-Token": self.admin_token})
        assert reply.status_code == 200, reply.text
        return reply.json()

    def set_faults(self, **config: Any) -> None:
        """Replace the fault configuration."""
        self.admin("PUT", "/admin/faults", config)

    def wait(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> None:
        """Wait until ``predicate(stats)`` holds (stats: requests and every withdrawal)."""
        deadline = time.monotonic() + timeout
        while not predicate(self.admin("GET", "/admin/stats")):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"partner never got there: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def kill_and_restart(self) -> None:
        """SIGKILL (a crash, no clean shutdown), then start again on the same port and database."""
        kill(self.proc)
        self.proc = _spawn(self.argv, self.url, self.log)

    def stop(self) -> None:
        """Terminate the process."""
        terminate(self.proc)


def start_partner(tmp: Path, rpc_url: str, *, whitelist: list[str], extra: list[str] = (),
                  webhook: str | None = None) -> Partner:
    """Start ``python -m scripts.services.partner`` on a free port and wait until it answers."""
    api_key, admin_token, hook = (secrets.token_hex(16) for _ in range(3))
    port = free_port()
    keys = tmp / f"partner-{port}"
    files = {}
    for name, value in (("key", secrets.token_hex(32)), ("api", api_key), ("admin", admin_token),
                        ("hook", hook)):
        files[name] = keys / name
        write_secret_file(files[name], value)
    argv = [sys.executable, "-m", "scripts.services.partner", "--port", str(port),
            "--db", str(tmp / f"partner-{port}.db"), "--rpc", rpc_url,
            "--key-file", str(files["key"]), "--api-key-file", str(files["api"]),
            "--admin-token-file", str(files["admin"]), "--whitelist", ",".join(whitelist),
            "--poll-s", "0.1", *extra]
    if webhook:
        argv += ["--webhook", webhook, "--webhook-secret-file", str(files["hook"])]
    log = tmp / f"partner-{port}.log"
    url = f"http://127.0.0.1:{port}"
    return Partner(_spawn(argv, url, log), url, api_key, admin_token, hook, log, argv)


def _spawn(argv: list[str], url: str, log: Path) -> subprocess.Popen[bytes]:
    """Start the service and wait until it answers."""
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    wait_healthy(proc, url + "/health", log, what="partner")
    return proc


def mint_usdc(w3: Any, to: str, units: int) -> None:
    """Mint ``units`` USDC to the unlocked fork account ``to`` (made a minter first)."""
    from scripts.services.issuer.chain import TOKEN_ABI, configure_minter_on_fork

    configure_minter_on_fork(w3.provider.endpoint_uri, to, units)
    token = w3.eth.contract(address=to_checksum_address(USDC.address), abi=TOKEN_ABI)
    tx = token.functions.mint(to_checksum_address(to), units).transact({"from": to_checksum_address(to)})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1


def send_token(w3: Any, token: str, sender: str, to: str, units: int) -> str:
    """ERC-20 ``transfer`` from an unlocked fork account; returns the tx hash."""
    tx = w3.eth.send_transaction({"from": to_checksum_address(sender), "to": to_checksum_address(token),
                                  "data": erc20_transfer(to_checksum_address(to), units)})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    return "0x" + bytes(tx).hex()


def send_eth(w3: Any, sender: str, to: str, wei: int) -> str:
    """ETH from an unlocked fork account; returns the tx hash."""
    tx = w3.eth.send_transaction({"from": to_checksum_address(sender), "to": to_checksum_address(to),
                                  "value": wei})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    return "0x" + bytes(tx).hex()


def settle(w3: Any, partner: Partner, confirmations: int,
           predicate: Callable[[list[Any]], bool], timeout: float = 30.0) -> None:
    """Mine past ``confirmations`` and until the partner reports what ``predicate`` (over its
    reported transactions) expects."""
    from strongroom_testkit import mine

    mine(w3, confirmations + 1)
    deadline = time.monotonic() + timeout
    client = partner.client()
    try:
        while not predicate(txs := client.transactions().transactions):
            if time.monotonic() > deadline:
                raise AssertionError(f"partner never reported it: {txs[-6:]}\n"
                                     f"{partner.log.read_text()[-2000:]}")
            time.sleep(0.1)
            mine(w3, 1)
    finally:
        client.close()


def holding(custody: Any, client: str, asset: str) -> int:
    """The client's verified holding of ``asset`` at the partner (``PartnerCustody.holdings``)."""
    return next(h.units for h in custody.holdings() if h.client_ref == client and h.asset == asset)
