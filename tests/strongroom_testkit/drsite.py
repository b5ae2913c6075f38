"""Folders for disaster-recovery tests: reachable by the ``postgres`` OS user that runs the
clusters (pytest's ``tmp_path`` is private to root), deleted in the background afterwards.

    @pytest.fixture
    def workdir():
        yield from drsite.postgres_workdir()
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def postgres_workdir() -> Iterator[Path]:
    """Body of a fixture: a fresh world-traversable temp folder; skips (printing the reason)
    when no PostgreSQL cluster can run here. Its thousands of cluster files are deleted by a
    detached, niced ``rm`` the test does not wait for."""
    import pytest

    from scripts.dr.pgcluster import unavailable_reason

    reason = unavailable_reason()
    if reason:
        print(f"SKIP dr: {reason}")
        pytest.skip(reason)
    folder = Path(tempfile.mkdtemp(prefix="strongroom-dr-"))
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        trash = folder.with_name(f"{folder.name}.removing")
        folder.rename(trash)
        subprocess.Popen(["nice", "-n", "19", "rm", "-rf", "--", str(trash)],
                         start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
