"""Throwaway PostgreSQL clusters for tests and benches (keeper-independent, reusable).

    from strongroom_testkit.postgres import PostgresCluster, pg_unavailable_reason
    with PostgresCluster() as pg:          # initdb in a temp dir, free loopback port, pg_ctl
        url = pg.create_database("mydb")   # "postgresql+psycopg://postgres@127.0.0.1:PORT/mydb"

When running as root the cluster is owned by and runs as the ``postgres`` OS user (PostgreSQL
refuses to run as root); the temp dir is chowned to it. Authentication is ``trust`` on loopback.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
RUN_AS = "postgres"


def pg_unavailable_reason() -> str | None:
    """Why a cluster cannot be started here, or None when it can."""
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (PG_BIN / tool).exists():
            return f"PostgreSQL server binaries not found ({PG_BIN / tool} missing)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return f"running as root and no '{RUN_AS}' OS user to run PostgreSQL as"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    """A PostgreSQL cluster in a temp dir; ``fsync=False`` speeds tests (never for benches)."""

    def __init__(self, fsync: bool = True, settings: dict[str, str] | None = None) -> None:
        reason = pg_unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        self.fsync = fsync
        self.settings = settings or {}
        self.dir = Path(tempfile.mkdtemp(prefix="strongroom-pg-"))
        self.port = _free_port()
        self._root = os.geteuid() == 0
        self.started = False

    def _run(self, *args: str) -> None:
        cmd = [str(a) for a in args]
        if self._root:
            cmd = ["runuser", "-u", RUN_AS, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True)

    def start(self) -> PostgresCluster:
        """initdb + pg_ctl start (waits until it accepts connections)."""
        if self._root:
            pw = pwd.getpwnam(RUN_AS)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        data = self.dir / "data"
        self._run(PG_BIN / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        opts = {
            "listen_addresses": "127.0.0.1", "port": str(self.port),
            "unix_socket_directories": str(self.dir), "fsync": "on" if self.fsync else "off",
            "synchronous_commit": "on" if self.fsync else "off",
            "full_page_writes": "on" if self.fsync else "off", "max_connections": "100",
            **self.settings,
        }
        o = " ".join(f"-c {k}={v}" for k, v in opts.items())
        self._run(PG_BIN / "pg_ctl", "-D", data, "-l", self.dir / "log", "-o", o, "-w", "start")
        self.started = True
        return self

    def stop(self, wait_for_removal: bool = True) -> None:
        """Stop the server (immediate) and remove its directory; with ``wait_for_removal`` False
        the directory is renamed away and deleted by a detached ``rm`` that outlives us (a test
        session's cluster holds hundreds of databases: gigabytes in hundreds of thousands of
        files, ~20 s to delete per 150 databases, which the session would otherwise wait for)."""
        if self.started:
            try:
                self._run(PG_BIN / "pg_ctl", "-D", self.dir / "data", "-m", "immediate", "-w",
                          "stop")
            finally:
                self.started = False
        if not wait_for_removal and self.dir.exists():
            trash = self.dir.with_name(f"{self.dir.name}.removing")
            self.dir.rename(trash)
            subprocess.Popen(["nice", "-n", "19", "rm", "-rf", "--", str(trash)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
            return
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3) of ``database``."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """CREATE DATABASE ``name`` and return its URL."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_SHARED: list[PostgresCluster] = []
# The tests' server runs in a zone that is not UTC (+12:45/+13:45, a calendar day ahead of UTC
# for half of it): a read that relabels a timestamptz as UTC instead of converting it fails here.
SERVER_TIMEZONE = "Pacific/Chatham"


def shared_cluster() -> PostgresCluster:
    """This process's one test cluster (fsync off: tests only; server timezone
    :data:`SERVER_TIMEZONE`), started on first use and stopped
    by :func:`stop_shared_cluster` (tests/conftest.py calls it when the session ends): the
    ``pg_cluster`` fixture and, in the suite's PostgreSQL mode, every product database
    (:func:`strongroom_testkit.dbtemplate.fresh_url`) live in it. Raises RuntimeError with the
    reason when no cluster can be started here."""
    if not _SHARED:
        cluster = PostgresCluster(fsync=False, settings={"timezone": SERVER_TIMEZONE})
        cluster.start()
        _SHARED.append(cluster)
    return _SHARED[0]


def stop_shared_cluster() -> None:
    """Stop the shared cluster if one was started (its files deleted in the background)."""
    while _SHARED:
        _SHARED.pop().stop(wait_for_removal=False)


def session_cluster() -> Iterator[PostgresCluster]:
    """Body of a session-scoped test fixture (``yield from session_cluster()``): the
    :func:`shared_cluster` (fsync off: tests only, never benches; stopped when the session ends,
    its files deleted in the background); skips, printing the reason, only when the server
    binaries (or the user to run them as) are absent."""
    import pytest

    reason = pg_unavailable_reason()
    if reason:
        print(f"SKIP postgres: {reason}")
        pytest.skip(reason)
    yield shared_cluster()
