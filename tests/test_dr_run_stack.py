"""`make run DB=postgres`: the stack runs on the local PostgreSQL cluster in ``.data/pg/primary``
(every domain migrated there), and a cluster that already runs is reused, not re-created.

One check-mode run (like tests/test_run_stack.py, whose full output assertions it does not
repeat: the same demo code runs, here against PostgreSQL)."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from alembic.script import ScriptDirectory

from keeper.config import load_settings
from keeper.schema import all_schemas
from scripts.dr.pgcluster import RUN_PORT, serve_local, unavailable_reason
from scripts.stack import bring_up

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.fork, pytest.mark.slow]


def system_identifier(dsn: str) -> int:
    """The cluster's identity, fixed at initdb: a re-created cluster gets a new one."""
    with psycopg.connect(dsn) as conn:
        return int(conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()[0])


def test_make_run_on_postgres_migrates_every_domain_and_reuses_the_cluster() -> None:
    reason = unavailable_reason() or (
        None if "database_url" in inspect.signature(bring_up).parameters else
        "scripts/stack.py's bring_up takes no database_url yet (the lead's file)")
    if reason:
        print(f"SKIP make run DB=postgres: {reason}")
        pytest.skip(reason)
    settings = load_settings()
    cluster, started = serve_local(settings.data_dir, settings.backup_dir)  # as make run does
    try:
        before = system_identifier(cluster.dsn())
        result = subprocess.run([sys.executable, "-m", "scripts.run_stack", "--check", "--db",
                                 "postgres"], cwd=ROOT, capture_output=True, text=True,
                                timeout=600)
        out = result.stdout
        assert result.returncode == 0, out + result.stderr
        url = f"postgresql+psycopg://postgres@127.0.0.1:{RUN_PORT}/strongroom_check"
        assert f"postgres          {url}  (already running;" in out  # reused, password-free
        assert f"database          {url}\n" in out  # the keeper and the API run on it
        assert "GET /v1/balances -> ETH 1000000000000000000 wei" in out  # mirrored end to end
        assert re.search(r"withdrawal ord_\w+: PAID 500 USDC by the vault", out)
        assert re.search(r"EOD GL batch GL-BATCH-\S+: posted as ATLAS-GL-\d+", out)
        assert out.strip().endswith("check: ok")
        assert system_identifier(cluster.dsn()) == before  # the same cluster, not a new initdb
        with psycopg.connect(cluster.dsn("strongroom_check")) as conn:
            for name, schema in all_schemas().items():
                heads = set(ScriptDirectory.from_config(schema.alembic_config(url)).get_heads())
                done = {row[0] for row in conn.execute(
                    f'SELECT version_num FROM "{schema.version_table}"')}  # noqa: S608
                assert done == heads, name
        assert cluster.running()  # a run that found it running leaves it running
    finally:
        if started:
            cluster.stop()
