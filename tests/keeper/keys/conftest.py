"""Fixtures for the keys tests: a SoftHSM2 token in a tmp dir and a private anvil."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from web3 import Web3

from keeper.keys.hsm import HsmConfig, ensure_local_token

ANVIL = Path(__file__).resolve().parents[3] / "node_modules" / ".bin" / "anvil"


@pytest.fixture(scope="session")
def hsm_config(tmp_path_factory: pytest.TempPathFactory) -> HsmConfig:
    """The project token, created exactly as the set-up does, under a tmp data dir."""
    if shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2-util not installed (apt softhsm2)")
    return ensure_local_token(tmp_path_factory.mktemp("data"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def anvil_w3():
    """Web3 on a private anvil (own loopback port), killed at teardown.

    Temporary stand-in until tests/conftest.py provides ``w3`` on the forked mainnet.
    """
    if not ANVIL.exists():
        pytest.skip(f"anvil binary missing at {ANVIL} (npm install)")
    port = _free_port()
    proc = subprocess.Popen(
        [str(ANVIL), "--port", str(port), "--host", "127.0.0.1", "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 10}))
    try:
        for _ in range(200):
            if proc.poll() is not None:
                pytest.fail("anvil exited at start-up")
            try:
                if w3.is_connected():
                    break
            except Exception:  # noqa: BLE001
                pass
            time.sleep(0.05)
        else:
            pytest.fail("anvil did not answer on its port")
        yield w3
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def chain_w3(request: pytest.FixtureRequest):
    """The lead's ``w3`` (forked mainnet) when defined, else our private anvil."""
    try:
        return request.getfixturevalue("w3")
    except pytest.FixtureLookupError:
        return request.getfixturevalue("anvil_w3")
