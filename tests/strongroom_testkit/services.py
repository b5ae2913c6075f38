"""Local vendor services as real subprocesses, shared by every test that needs them.

:class:`Atlas` / :func:`make_atlas`: the local core banking (``python -m scripts.services.atlas``)
on a free port with its own database and 0600 key files.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from keeper.config import ROOT
from keeper.keys.secrets import write_secret_file
from strongroom_testkit import free_port


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
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ATLAS exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/atlas/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("ATLAS did not come up")

    def kill(self) -> None:
        """SIGKILL: a crash, no clean shutdown."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """Terminate and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


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
