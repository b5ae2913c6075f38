"""Stopping the service processes tests start: the one home of terminate-then-kill."""

from __future__ import annotations

import subprocess


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
