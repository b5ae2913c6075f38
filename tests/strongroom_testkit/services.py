"""Local vendor services as real subprocesses, shared by every test that needs them.

:class:`Atlas` / :func:`make_atlas`: the local core banking (``python -m scripts.services.atlas``)
on a free port with its own database and 0600 key files. :class:`Issuer` / :func:`start_issuer`:
the local stablecoin issuer (``python -m scripts.services.issuer``) on a chain.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from keeper.config import ROOT
from keeper.integrations.issuer import IssuerClient
from keeper.keys.secrets import Secret, write_secret_file
from strongroom_testkit import free_port
from strongroom_testkit.processes import kill, terminate, wait_healthy


@dataclass
class Atlas:
    """A running ATLAS subprocess and how to reach it."""

    url: str
    db: Path
    api_key: str
    ops_key: str
    argv: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or restart) the process on the same port and database; wait until healthy."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        wait_healthy(self.proc, f"{self.url}/atlas/health", self.log, what="ATLAS", timeout_s=60,
                     interval_s=0.1)

    def kill(self) -> None:
        """SIGKILL: a crash, no clean shutdown."""
        assert self.proc is not None
        kill(self.proc, timeout=10)

    def stop(self) -> None:
        """Terminate and reap."""
        terminate(self.proc, timeout=10)


def make_atlas(d: Path, platform_url: str) -> Atlas:
    """An ATLAS (not started) with its database and key files in ``d``, notifying
    ``platform_url`` with a fast backoff, at most 4 attempts, a 0.5 s timeout."""
    d.mkdir(parents=True, exist_ok=True)
    api_key, ops_key = uuid.uuid4().hex, uuid.uuid4().hex
    write_secret_file(d / "keys" / "api", api_key)
    write_secret_file(d / "keys" / "ops", ops_key)
    write_secret_file(d / "keys" / "platform", "platform-" + uuid.uuid4().hex)
    api_key, ops_key = (d / "keys" / "api").read_text(), (d / "keys" / "ops").read_text()
    port = free_port()
    argv = [sys.executable, "-m", "scripts.services.atlas", "--port", str(port), "--db", str(d / "atlas.db"),
            "--api-key-file", str(d / "keys" / "api"), "--ops-key-file", str(d / "keys" / "ops"),
            "--platform-url", platform_url, "--platform-key-file", str(d / "keys" / "platform"),
            "--notify-backoff-s", "0.05", "--notify-max-attempts", "4",
            "--notify-timeout-s", "0.5"]
    return Atlas(f"http://127.0.0.1:{port}", d / "atlas.db", api_key, ops_key, argv, d / "atlas.log")


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
        terminate(self.proc)
        self.client.close()


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
    health = wait_healthy(proc, url + "/health", log, what="issuer").json()
    client = IssuerClient(url, Secret(api_key), timeout_s=30, retries=3, backoff_s=0.05)
    return Issuer(proc, url, health["redemption_address"], client, admin_token, log, args)


def fork_minter_key(rpc_url: str, allowance: int) -> str:
    """A fresh secp256k1 key configured as a USDC minter (``allowance`` base units) on the fork."""
    from eth_account import Account

    from scripts.services.issuer.chain import configure_minter_on_fork

    account = Account.create()
    configure_minter_on_fork(rpc_url, account.address, allowance)
    return "0x" + bytes(account.key).hex()
