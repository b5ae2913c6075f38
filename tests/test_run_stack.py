"""`make run`'s main job brings the whole stack up, answers, and stops cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.fork, pytest.mark.slow]


def test_main_job_comes_up_and_stops():
    env = dict(os.environ)
    result = subprocess.run([sys.executable, "-m", "scripts.run_stack", "--check"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Strongroom local stack is up" in out
    assert "upstream mainnet  http://127.0.0.1:18545" in out
    assert "'ok': True" in out
    assert out.strip().endswith("check: ok")
