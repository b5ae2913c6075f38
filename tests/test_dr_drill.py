"""The disaster-recovery drill, small: synchronous replication loses no acknowledged posting.

Two real local PostgreSQL clusters (primary and a ``pg_basebackup -R`` standby), the writer and
the API as their own processes under load, the primary site SIGKILLed, the standby promoted and
the services restarted on it (:mod:`scripts.dr.drill`). RTO is printed, never asserted.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from scripts.dr.drill import run_drill, table
from scripts.dr.pgcluster import unavailable_reason

pytestmark = pytest.mark.slow


@pytest.fixture
def workdir() -> Path:
    """A folder the ``postgres`` OS user can reach (pytest's tmp_path is private to root)."""
    reason = unavailable_reason()
    if reason:
        print(f"SKIP dr drill: {reason}")
        pytest.skip(reason)
    folder = Path(tempfile.mkdtemp(prefix="strongroom-dr-"))
    os.chmod(folder, 0o755)
    yield folder
    # thousands of cluster files: deleted by a detached, niced rm the test does not wait for
    trash = folder.with_name(f"{folder.name}.removing")
    folder.rename(trash)
    subprocess.Popen(["nice", "-n", "19", "rm", "-rf", "--", str(trash)], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_sync_failover_keeps_every_acknowledged_posting(workdir: Path) -> None:
    failover, = run_drill("sync", workdir / "sync", seconds=2, rate=100, settle_s=0.2,
                          progress=print)
    print(table([failover]))
    assert failover.acked > 0  # postings were acknowledged before the kill
    assert failover.missing == 0 and failover.rpo_s == 0  # RPO 0: all on the promoted standby
    assert failover.after > 0  # the promoted standby takes new postings
    assert failover.rto_posting_s is not None and failover.rto_read_s is not None
