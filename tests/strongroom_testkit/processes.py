"""The service processes tests start: waiting until one answers, stopping and crashing it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx


def wait_healthy(proc: subprocess.Popen[bytes], health_url: str, log: Path, *, what: str,
                 timeout_s: float = 90.0, interval_s: float = 0.2) -> httpx.Response:
    """Poll ``health_url`` until it answers 200 and return that reply. ``RuntimeError`` (with
    the tail of ``log``) when ``proc`` exits first, or after ``timeout_s`` (``proc`` killed)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            reply = httpx.get(health_url, timeout=2)
            if reply.status_code == 200:
                return reply
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            kill(proc)
            raise RuntimeError(f"{what} did not come up: {log.read_text()[-3000:]}")
        time.sleep(interval_s)


def terminate(proc: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    """SIGTERM ``proc`` if it still runs and reap it; SIGKILL it if it has not exited within
    ``timeout`` seconds. ``None`` (never started) is accepted and ignored."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def kill(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGKILL ``proc`` (a crash: no clean shutdown) and reap it."""
    proc.kill()
    proc.wait(timeout=timeout)
