"""Local PostgreSQL clusters for ``make run DB=postgres`` and the disaster-recovery drill.

A cluster lives in ``<root>/<name>`` (by default ``.data/pg/<name>``; its server log beside it
as ``<name>.log``), listens on one loopback TCP port only (no Unix socket) and trusts loopback
connections (no password exists to leak). When running as root the files belong to and the
server runs as the ``postgres`` OS user (PostgreSQL refuses to run as root).

A primary has ``wal_level=replica`` and archives each finished WAL segment into
``archive_dir`` (``settings.backup_dir / "wal"``); with ``synchronous_standby`` set it
acknowledges a commit only once that standby has flushed it (``synchronous_commit=on``). A
standby is a ``pg_basebackup -R`` copy of the primary streaming from it; ``promote`` makes it
the primary. :meth:`Cluster.restore` builds a cluster from a base backup plus the archived WAL.

CLI: ``python -m scripts.dr.pgcluster init|start|stop|status|promote|standby|sync NAME``.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
RUN_AS = "postgres"
CONF = "strongroom.conf"  # our settings, included from postgresql.conf (copied by base backups)


def _as_root() -> bool:
    return os.geteuid() == 0


def own_dir(path: Path) -> Path:
    """Create ``path`` (and parents) owned by the server's OS user when running as root."""
    path.mkdir(parents=True, exist_ok=True)
    if _as_root():
        pw = pwd.getpwnam(RUN_AS)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def run_pg(*args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool (as ``postgres`` when root); ``RuntimeError`` with its output on
    failure when ``check``."""
    cmd = [str(a) for a in args]
    if _as_root():
        cmd = ["runuser", "-u", RUN_AS, "--", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{Path(str(args[0])).name}: "
                           f"{' '.join(map(str, args[:2]))} failed ({done.returncode}): "
                           f"{done.stderr.strip()[-1500:]}")
    return done


def _quote(value: object) -> str:
    """A postgresql.conf value: numbers bare, text single-quoted."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def archive_command(archive_dir: Path) -> str:
    """Copy a finished segment into ``archive_dir`` under a temporary name, then rename it:
    never overwrites a segment already archived, never leaves a half-copied one."""
    d = shlex.quote(str(archive_dir))
    return f"test ! -f {d}/%f && cp %p {d}/%f.tmp && mv {d}/%f.tmp {d}/%f"


def primary_settings(archive_dir: Path | None, synchronous_standby: str | None = None,
                     archive_timeout_s: int = 60) -> dict[str, object]:
    """Replication and archiving settings of a primary (see the module docstring)."""
    out: dict[str, object] = {
        "wal_level": "replica", "max_wal_senders": 10, "wal_keep_size": "256MB",
        "hot_standby": True, "synchronous_commit": "on", "fsync": True,
        "synchronous_standby_names": synchronous_standby or "",
        "archive_mode": archive_dir is not None,
    }
    if archive_dir is not None:
        out["archive_command"] = archive_command(archive_dir)
        out["archive_timeout"] = archive_timeout_s
    return out


class Cluster:
    """One local cluster: ``<root>/<name>`` on loopback ``port``."""

    def __init__(self, root: Path, name: str, port: int) -> None:
        self.root, self.name, self.port = Path(root), name, port
        self.data = self.root / name
        self.log = self.root / f"{name}.log"

    # ------------------------------------------------------------------ identity
    def url(self, database: str = "postgres") -> str:
        """Password-free SQLAlchemy URL (psycopg 3) of ``database``."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """libpq connection string of ``database``."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database} connect_timeout=5"

    def initialized(self) -> bool:
        """True when the data directory holds a cluster."""
        return (self.data / "PG_VERSION").exists()

    # ------------------------------------------------------------------ life cycle
    def write_config(self, settings: Mapping[str, object]) -> None:
        """Write our settings file (port, loopback only, ``cluster_name`` = the name, which a
        standby reports to the primary as its ``application_name``) and include it."""
        lines = {"listen_addresses": "127.0.0.1", "port": self.port,
                 "unix_socket_directories": "", "cluster_name": self.name,
                 "max_connections": 100, **settings}
        text = "".join(f"{k} = {_quote(v)}\n" for k, v in lines.items())
        conf = self.data / CONF
        conf.write_text(text)
        main = self.data / "postgresql.conf"
        include = f"include_if_exists = '{CONF}'\n"
        if include not in main.read_text():
            with main.open("a") as out:
                out.write(include)
        if _as_root():
            pw = pwd.getpwnam(RUN_AS)
            os.chown(conf, pw.pw_uid, pw.pw_gid)

    def init(self, settings: Mapping[str, object]) -> Cluster:
        """``initdb`` (trust on loopback, UTF-8, data checksums) and our settings."""
        own_dir(self.root)
        run_pg(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
               "--data-checksums", "--no-sync")  # an empty cluster: the first checkpoint syncs
        self.write_config(settings)
        return self

    def running(self) -> bool:
        """True when the server of this data directory runs (``pg_ctl status``)."""
        pid = self.postmaster_pid()
        if pid is None or not alive(pid):
            return False
        try:  # the pid is that server's, not a later process that reused a stale number
            return str(self.data) in Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
        except OSError:
            return False

    def postmaster_pid(self) -> int | None:
        """The server's pid from ``postmaster.pid`` (None without one)."""
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def start(self, timeout_s: int = 60) -> Cluster:
        """Start the server and wait until it accepts connections."""
        if not self.log.exists():
            self.log.touch()
            if _as_root():
                pw = pwd.getpwnam(RUN_AS)
                os.chown(self.log, pw.pw_uid, pw.pw_gid)
        try:
            run_pg(PG_BIN / "pg_ctl", "start", "-D", self.data, "-l", self.log, "-w",
                   "-t", timeout_s)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{self.log.read_text()[-1500:]}") from None
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back sessions, checkpoint) if it runs."""
        if self.running():
            run_pg(PG_BIN / "pg_ctl", "stop", "-D", self.data, "-m", mode, "-w")

    def promote(self) -> None:
        """Promote a standby to primary; returns once it accepts writes."""
        run_pg(PG_BIN / "pg_ctl", "promote", "-D", self.data, "-w")

    def kill(self) -> int:
        """SIGKILL the server and every process it started at once (stopped first, so none
        runs on meanwhile): a crash of the site. Returns the number of processes killed."""
        postmaster = self.postmaster_pid()
        if postmaster is None or not self.running():
            return 0
        pids = [postmaster, *children(postmaster)]
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(pids)

    # ------------------------------------------------------------------ replication
    def base_backup(self, target: Path, *, standby: bool = False, no_sync: bool = False) -> None:
        """``pg_basebackup`` of this (running) cluster into ``target`` (plain format, WAL
        streamed alongside, fast checkpoint); ``standby`` adds ``-R`` (standby.signal and
        ``primary_conninfo`` pointing here); ``no_sync`` skips flushing the copy to disk (for
        drills that kill processes, never the machine)."""
        own_dir(target.parent)
        run_pg(PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", self.port, "-U", "postgres",
               "-D", target, "-X", "stream", "-c", "fast", *(["-R"] if standby else []),
               *(["--no-sync"] if no_sync else []))

    def make_standby(self, name: str, port: int, settings: Mapping[str, object],
                     no_sync: bool = False) -> Cluster:
        """A standby of this cluster in ``<root>/<name>`` on ``port`` (not started)."""
        standby = Cluster(self.root, name, port)
        self.base_backup(standby.data, standby=True, no_sync=no_sync)
        standby.write_config(settings)
        return standby

    @classmethod
    def restore(cls, root: Path, name: str, port: int, base: Path, archive_dir: Path,
                timeline: str = "latest") -> Cluster:
        """A cluster in ``<root>/<name>`` from the base backup ``base`` that replays every WAL
        segment archived in ``archive_dir`` (on ``timeline``), then opens for writes (not
        started). It archives nothing itself."""
        out = cls(root, name, port)
        own_dir(out.root)
        shutil.copytree(base, out.data, symlinks=True)
        if _as_root():
            run = pwd.getpwnam(RUN_AS)
            for path in (out.data, *out.data.rglob("*")):
                os.chown(path, run.pw_uid, run.pw_gid, follow_symlinks=False)
        (out.data / "standby.signal").unlink(missing_ok=True)
        d = shlex.quote(str(archive_dir))
        out.write_config({"archive_mode": False, "synchronous_standby_names": "",
                          "restore_command": f"cp {d}/%f %p",
                          "recovery_target_timeline": timeline})
        (out.data / "recovery.signal").touch()
        return out

    def set_synchronous(self, standby: str | None) -> None:
        """From now on acknowledge a commit only once ``standby`` flushed it (None: at once).
        Set once the standby streams: before, every commit would wait for it."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = {_quote(standby or '')}")
            conn.execute("SELECT pg_reload_conf()")

    def replica_state(self, name: str) -> tuple[str, str] | None:
        """(state, sync_state) of the standby ``name`` as this primary sees it, or None."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            row = conn.execute("SELECT state, sync_state FROM pg_stat_replication "
                               "WHERE application_name = %s", (name,)).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def replica_flush_lag_s(self, name: str) -> float | None:
        """Seconds between this primary flushing recent WAL and the standby ``name`` reporting
        it flushed too (``pg_stat_replication.flush_lag``: what an asynchronous standby is
        behind), or None if not attached or idle."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            row = conn.execute("SELECT EXTRACT(EPOCH FROM flush_lag) FROM pg_stat_replication "
                               "WHERE application_name = %s", (name,)).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def wait_replica(self, name: str, sync: bool, timeout_s: float = 60) -> None:
        """Wait until the standby ``name`` streams (and is the synchronous one if ``sync``)."""
        deadline = time.monotonic() + timeout_s
        while (state := self.replica_state(name)) is None or state[0] != "streaming" or (
                sync and state[1] != "sync"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"standby {name} not streaming: {state}")
            time.sleep(0.1)

    def in_recovery(self) -> bool:
        """True while the cluster replays WAL (standby, or a restore not yet finished)."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            return bool(conn.execute("SELECT pg_is_in_recovery()").fetchone()[0])

    def create_database(self, name: str, *, fresh: bool = False) -> str:
        """Create ``name`` unless it exists (``fresh``: drop it first); return its URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            if fresh:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                             .format(sql.Identifier(name)))
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (name,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)


RUN_PORT = 15432  # loopback port of make run's local primary (DB=postgres)


def serve_local(data_dir: Path, backup_dir: Path, port: int = RUN_PORT) -> tuple[Cluster, bool]:
    """``make run``'s primary in ``<data_dir>/pg/primary`` on ``port``: created on first use
    (archiving full WAL segments into ``<backup_dir>/wal``), started unless it runs already.
    Returns (cluster, whether this call started it)."""
    cluster = Cluster(data_dir / "pg", "primary", port)
    settings = primary_settings(own_dir(backup_dir / "wal"), None, archive_timeout_s=0)
    if cluster.running():
        import psycopg

        try:
            psycopg.connect(cluster.dsn(), autocommit=True).close()
        except psycopg.OperationalError as exc:
            raise RuntimeError(f"{cluster.data} runs but does not answer on port {port} "
                               "(started with another port?)") from exc
        return cluster, False
    if cluster.initialized():
        cluster.write_config(settings)  # the port and settings of this version
    else:
        cluster.init(settings)
    cluster.start()
    return cluster, True


def children(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (read from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def unavailable_reason() -> str | None:
    """Why no cluster can be run here, or None when one can."""
    for tool in ("initdb", "pg_ctl", "postgres", "pg_basebackup"):
        if not (PG_BIN / tool).exists():
            return f"PostgreSQL server binaries not found ({PG_BIN / tool} missing)"
    if _as_root():
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return f"running as root and no '{RUN_AS}' OS user to run PostgreSQL as"
    return None


def main(argv: list[str] | None = None) -> int:
    """CLI over :class:`Cluster` for the clusters under ``settings.data_dir / "pg"``."""
    from keeper.config import load_settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("init", "start", "stop", "status", "promote", "standby",
                                           "sync"))
    parser.add_argument("name", help="cluster name, e.g. primary or standby")
    parser.add_argument("--port", type=int, required=True, help="loopback port of this cluster")
    parser.add_argument("--primary-port", type=int, help="standby: port of the primary")
    parser.add_argument("--primary-name", default="primary", help="standby: primary's name")
    parser.add_argument("--standby", default="",
                        help="sync: commit only once this (streaming) standby flushed it; "
                             "empty: asynchronous")
    args = parser.parse_args(argv)
    settings = load_settings()
    root = settings.data_dir / "pg"
    cluster = Cluster(root, args.name, args.port)
    if args.action == "init":
        wal = own_dir(settings.backup_dir / "wal")
        cluster.init(primary_settings(wal))
    elif args.action == "standby":
        if args.primary_port is None:
            parser.error("standby needs --primary-port")
        primary = Cluster(root, args.primary_name, args.primary_port)
        primary.make_standby(args.name, args.port, primary_settings(
            own_dir(settings.backup_dir / "wal")))
    elif args.action == "start":
        cluster.start()
    elif args.action == "stop":
        cluster.stop()
    elif args.action == "promote":
        cluster.promote()
    elif args.action == "sync":
        cluster.set_synchronous(args.standby or None)
    up = cluster.running()
    print(f"{args.name}: {'running' if up else 'stopped'} ({cluster.data}, {cluster.url()})")
    return 0 if up or args.action in ("stop", "init", "standby") else 3


if __name__ == "__main__":
    sys.exit(main())
