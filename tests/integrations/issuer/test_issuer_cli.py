"""The issuer service's command line, without a chain: secrets it refuses to start with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from keeper.keys.secrets import write_secret_file
from strongroom_testkit import free_port

ROOT = Path(__file__).resolve().parents[3]
KEY = "0x" + "11" * 32


def run(tmp_path: Path, api_key: str, admin_token: str) -> subprocess.CompletedProcess[str]:
    files = {}
    for name, value in (("minter.key", KEY), ("api.key", api_key), ("admin.token", admin_token)):
        files[name] = write_secret_file(tmp_path / name, value)
    cmd = [sys.executable, "-m", "scripts.services.issuer", "--port", str(free_port()),
           "--db", str(tmp_path / "i.db"), "--rpc", f"http://127.0.0.1:{free_port()}",
           "--minter-key-file", str(files["minter.key"]), "--api-key-file", str(files["api.key"]),
           "--admin-token-file", str(files["admin.token"])]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("api_key, admin_token, named", [
    ("k" * 32, " ", "admin.token"),  # an empty admin token would open the admin API to anyone
    ("", "t" * 32, "api.key"),
    ("Zq7#x", "t" * 32, "api.key")])
def test_empty_or_short_secrets_stop_start_up_naming_the_file(tmp_path, api_key, admin_token, named):
    done = run(tmp_path, api_key, admin_token)
    assert done.returncode != 0
    assert named in done.stderr and "at least 16" in done.stderr, done.stderr[-2000:]
    for value in (api_key.strip(), admin_token.strip(), KEY[2:]):
        if len(value) >= 4:
            assert value not in done.stderr + done.stdout
