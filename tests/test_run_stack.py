"""`make run`'s main job: brings the whole stack up end to end, answers, stops cleanly."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keeper.config import load_settings
from scripts import localnet

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.fork, pytest.mark.slow]


def assert_stack_output(out: str) -> None:
    assert "Strongroom local stack is up" in out
    assert "upstream mainnet  http://127.0.0.1:18545" in out
    for name in ("cold_multisig", "warm_multisig", "pauser_multisig", "timelock", "whitelist",
                 "vault", "escrow", "staking_pool"):
        assert f"    {name}" in out
    for venue in ("deepbook", "fastlane", "thirdex"):  # the trading venues, each its own process
        assert re.search(rf"venue {venue} +http://127.0.0.1:\d+ ", out)
    assert "'ok': True" in out
    assert "GET /v1/balances -> ETH 1000000000000000000 wei" in out  # deposit mirrored end to end
    assert "sr_" not in out  # the demo API key is written to a 0600 file, never printed
    # the banking flows through the API against the local chain, issuer and ATLAS
    assert re.search(r"issuer mint \S+: 1,000,000 USDC to 0x[0-9a-fA-F]{40} \(tx 0x[0-9a-f]{64}\)", out)
    assert re.search(r"flows +vault deposit of the inventory: tx 0x[0-9a-f]{64}", out)
    assert re.search(r"buy 100,000.00 USD of USDC: order ord_\w+ completed \(fee 25000 cents\)", out)
    assert re.search(r"sell 20,000 USDC: order ord_\w+ completed \(fee 5000 cents\)", out)
    assert re.search(r"on-us transfer 1,000 USDC to Bob: order ord_\w+ completed", out)
    assert re.search(r"earmarked for a buy: notice accepted .*'stablecoin_order_id': 'ord_", out)
    assert "withdraw 500 USDC on-chain:" in out
    # paid by the vault from the keeper's HSM key (the vault's CUSTOMER) to a destination the
    # compliance multisig whitelisted, after the confirmations
    assert re.search(r"withdrawal ord_\w+: PAID 500 USDC by the vault to 0x[0-9a-fA-F]{40} "
                     r"\(whitelisted by the compliance multisig\) in tx 0x[0-9a-f]{64}; "
                     r"USDC there now 500000000\b", out)
    assert re.search(r"EOD GL batch GL-BATCH-\S+: posted as ATLAS-GL-\d+ \(\d+ balanced lines\)", out)
    # the trading desk: routed over the local venues under the jurisdiction rules, lots booked
    assert re.search(r"trading desk +buy 0.1 BTC for a US institutional client: order demo-desk-1 "
                     r"filled over \w+.* \(filled 10000000 sat\)", out)
    assert re.search(r"tax lots: GET \S+/taxlots -> HTTP 200", out)
    assert re.search(r"custody partner +http://127.0.0.1:\d+ ", out)
    # the web console and its demo logins, one per role; passwords only in 0600 files
    console = re.search(r"console +http://127.0.0.1:\d+/console/ .* password is in (\S+)/<login>"
                        r"\.password\)", out)
    assert console, out
    folder = Path(console.group(1))
    for login, role in (("demo-signer", "signer"), ("demo-compliance", "compliance"),
                        ("demo-treasury", "treasury"), ("demo-ops", "ops"),
                        ("demo-auditor", "auditor"), ("demo-client", "client")):
        assert re.search(rf"^    {login} +{role}$", out, re.MULTILINE), login
        secret = folder / f"{login}.password"
        assert secret.stat().st_mode & 0o077 == 0 and secret.read_text().strip() not in out


def test_check_mode_comes_up_verifies_and_stops():
    result = subprocess.run([sys.executable, "-m", "scripts.run_stack", "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_stack_output(result.stdout)
    assert result.stdout.strip().endswith("check: ok")


def system_identifier(dsn: str) -> int:
    """The cluster's identity, fixed at initdb: a re-created cluster gets a new one."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        return int(conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()[0])


def test_ctrl_c_on_postgres_stops_everything_cleanly():
    """`make run DB=postgres`, then Ctrl-C: the whole stack on the local PostgreSQL cluster in
    ``.data/pg/primary`` (a cluster that already runs is reused, not re-created; every domain
    migrated in the run's database), then everything the run started stops and the API port is
    released. (The SQLite default is `test_check_mode_comes_up_verifies_and_stops`.)"""
    from alembic.script import ScriptDirectory

    from keeper.schema import all_schemas
    from scripts.dr.pgcluster import RUN_PORT, serve_local, unavailable_reason

    reason = unavailable_reason()
    if reason:
        print(f"SKIP make run DB=postgres: {reason}")
        pytest.skip(reason)
    settings = load_settings()
    cluster, started = serve_local(settings.data_dir, settings.backup_dir)  # as make run does
    port = localnet.free_port()
    try:
        before = system_identifier(cluster.dsn())
        proc = subprocess.Popen([sys.executable, "-m", "scripts.run_stack", "--api-port", str(port),
                                 "--db", "postgres"],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: list[str] = []
        try:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
                if line.startswith("Press Ctrl-C"):
                    break
            assert lines and lines[-1].startswith("Press Ctrl-C"), "".join(lines)
            proc.send_signal(signal.SIGINT)
            rest, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        out = "".join(lines) + rest
        assert proc.returncode == 0, out
        assert_stack_output(out)
        assert "stopping..." in out
        with socket.socket() as sock:  # the API port is released
            assert sock.connect_ex(("127.0.0.1", port)) != 0
        url = f"postgresql+psycopg://postgres@127.0.0.1:{RUN_PORT}/strongroom_run"
        assert f"postgres          {url}  (already running;" in out  # reused, password-free
        assert f"database          {url}\n" in out  # the keeper and the API ran on it
        assert system_identifier(cluster.dsn()) == before  # the same cluster, not a new initdb
        assert cluster.running()  # a run that found it running leaves it running
        import psycopg

        with psycopg.connect(cluster.dsn("strongroom_run")) as conn:
            for name, schema in all_schemas().items():
                heads = set(ScriptDirectory.from_config(schema.alembic_config(url)).get_heads())
                done = {row[0] for row in conn.execute(
                    f'SELECT version_num FROM "{schema.version_table}"')}  # noqa: S608
                assert done == heads, name
    finally:
        if started:
            cluster.stop()
