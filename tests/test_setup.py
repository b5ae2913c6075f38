"""The set-up command: idempotent, and one clear line when a system package is missing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs the whole set-up several times

ROOT = Path(__file__).resolve().parent.parent
SETUP = ["bash", str(ROOT / "scripts/setup.sh")]


def run_setup(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(SETUP, cwd=ROOT, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=600)


def tracked_state() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout


def test_second_setup_run_installs_and_changes_nothing():
    first = run_setup()  # the suite's own `make test` already ran it once
    assert first.returncode == 0, first.stderr
    stamps = sorted((ROOT / ".data/stamps").iterdir())
    before = {p.name: (p.stat().st_mtime_ns, p.read_text()) for p in stamps}
    tree_before = tracked_state()
    state = ROOT / ".data/localnet/state.json"
    state_mtime = state.stat().st_mtime_ns

    second = run_setup()

    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().splitlines() == ["setup: ready"], second.stdout
    assert {p.name: (p.stat().st_mtime_ns, p.read_text()) for p in stamps} == before
    assert tracked_state() == tree_before
    assert state.stat().st_mtime_ns == state_mtime


def test_missing_apt_package_is_one_clear_line():
    result = run_setup(STRONGROOM_APT_PACKAGES="strongroom-no-such-package",
                       STRONGROOM_SETUP_AS_USER="1")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == ["setup: error: missing apt packages; run: "
                     "sudo apt-get install -y strongroom-no-such-package"]


def test_missing_npm_is_one_clear_line():
    result = run_setup(NPM="strongroom-no-such-npm")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "setup: error: node and npm not found; run: sudo apt-get install -y nodejs npm"]
