"""The services of one site in the drill: the keeper-like writer and the API, each its own
process against one database URL, and a reader polling the API; killed together on a disaster.

:class:`AckLog` keeps, in the drill process's memory, every transfer the writer acknowledged
(``ack`` lines, printed only after the commit) with the time it was read.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from keeper.config import ROOT, environment


@dataclass
class AckLog:
    """Acknowledged transfers read from a writer's output: id -> (monotonic time, latency µs)."""

    acks: dict[str, tuple[float, int]] = field(default_factory=dict)
    first_ack: threading.Event = field(default_factory=threading.Event)

    def follow(self, stream: IO[str]) -> threading.Thread:
        """Read ``stream`` to its end in a thread (the lines buffered in the pipe when the writer
        was killed are still read: they were acknowledged before the kill)."""
        def read() -> None:
            for line in stream:
                parts = line.split()
                if parts[:1] == ["ack"] and len(parts) == 3:
                    self.acks[parts[1]] = (time.monotonic(), int(parts[2]))
                    self.first_ack.set()

        thread = threading.Thread(target=read, name="acks", daemon=True)
        thread.start()
        return thread

    def first_at(self) -> float | None:
        """Monotonic time of the first acknowledgement, or None."""
        return min((t for t, _ in self.acks.values()), default=None)

    def latencies_us(self) -> list[int]:
        """Commit latencies of every acknowledged transfer, sorted."""
        return sorted(us for _, us in self.acks.values())


SLOW_S = 0.7  # under the API's default 100 requests per minute per client, shared by all workers
FAST_S = 0.05  # while waiting for the first read after a disaster (the dead API counts nothing)


@dataclass
class Reader:
    """Polls ``GET /v1/balances`` with a client key; keeps the times of successful reads.
    It polls every ``interval_s``: the drill sets :data:`FAST_S` from the kill until the first
    successful read, else :data:`SLOW_S` (one client's polling must stay within its rate limit,
    whose counts the database keeps and replicates)."""

    url: str
    api_key: str
    interval_s: float = SLOW_S
    ok_at: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> threading.Thread:
        """Poll in a thread until :meth:`stop`."""
        def poll() -> None:
            headers = {"Authorization": f"Bearer {self.api_key}"}
            with httpx.Client(timeout=2.0, headers=headers) as client:
                while not self._stop.is_set():
                    try:
                        status = client.get(f"{self.url}/v1/balances").status_code
                    except httpx.HTTPError:
                        status = 0
                    if status == 200:
                        self.ok_at.append(time.monotonic())
                    self._stop.wait(self.interval_s)

        thread = threading.Thread(target=poll, name="reader", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()

    def first_ok_after(self, t: float) -> float | None:
        """Time of the first successful read after ``t``, or None."""
        return next((x for x in self.ok_at if x > t), None)


class Site:
    """The writer and the API of one site against ``db_url`` (their logs in ``folder``);
    ``api_port`` None: no API (a drill of the database and the writer only)."""

    def __init__(self, folder: Path, db_url: str, client_id: str, tag: str,
                 api_port: int | None, rate: float) -> None:
        self.folder, self.db_url, self.tag, self.api_port = folder, db_url, tag, api_port
        self.client_id, self.rate = client_id, rate
        self.log = AckLog()
        self.procs: list[subprocess.Popen[str]] = []
        self._reader_thread: threading.Thread | None = None

    @property
    def api_url(self) -> str:
        """Base URL of this site's API."""
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        """The children's environment: the site's database and data folder."""
        return {**os.environ, **environment(database_url=self.db_url, data_dir=self.folder / "app")}

    def start(self) -> Site:
        """Start the API (if any) and the writer, not waiting for them."""
        return self.start_api().start_writer()

    def start_writer(self) -> Site:
        """Start the writer (not waiting for it)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / f"writer-{self.tag}.log").open("ab") as log:
            writer = subprocess.Popen(
                [sys.executable, "-m", "scripts.dr.writer", "--url", self.db_url, "--client",
                 self.client_id, "--tag", self.tag, "--rate", str(self.rate)],
                cwd=ROOT, env=self.env(), stdout=subprocess.PIPE, text=True, stderr=log)
        self.procs.append(writer)
        assert writer.stdout is not None
        self._reader_thread = self.log.follow(writer.stdout)
        return self

    def start_api(self) -> Site:
        """Start the API (not waiting for it), if this site has one."""
        if self.api_port is None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / f"api-{self.tag}.log").open("ab") as log:
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
                 "--port", str(self.api_port), "--log-level", "warning"],
                cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, text=True))
        return self

    def wait_up(self, timeout_s: float = 60) -> None:
        """Wait until the writer acknowledged a posting and the API (if any) answers
        ``/health``."""
        deadline = time.monotonic() + timeout_s
        while not self.log.first_ack.wait(0.05):
            self._check(deadline)
        while self.api_port is not None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            self._check(deadline)
            time.sleep(0.05)

    def _check(self, deadline: float) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"site {self.tag}: {proc.args[2]} exited {proc.returncode} "
                                   f"(logs in {self.folder})")
        if time.monotonic() > deadline:
            raise RuntimeError(f"site {self.tag} did not come up (logs in {self.folder})")

    def kill(self) -> None:
        """SIGKILL the writer and the API (stopped first, then killed: no clean shutdown), and
        read the writer's output to its end."""
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for proc in self.procs:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, sig)
        self.reap()

    def stop(self) -> None:
        """Terminate the processes (SIGKILL after 10 s) and reap them."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        self.reap()

    def reap(self) -> None:
        """Wait for the processes and for the writer's output to be read."""
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if self._reader_thread is not None:
            self._reader_thread.join(10)
