"""Disaster-recovery drill: kill the primary site under load, fail over, measure RPO and RTO.

Two local clusters on two ports stand for two regions: a primary (archiving its WAL) and a
standby streaming from it (``--mode sync``: the primary acknowledges a commit only once the
standby flushed it; ``--mode async``: at once). A keeper-like writer (:mod:`scripts.dr.writer`)
posts transfers through the ledger and the API (uvicorn) serves reads on the primary, under a
steady load. Then the whole primary site is killed (SIGKILL: the database server, the writer, the
API), the standby is promoted (``pg_ctl promote``) and the writer and API restart against it.

- RPO: acknowledged postings missing on the promoted standby (and the seconds of writes they
  span, from the oldest missing acknowledgement to the kill);
- RTO: seconds from the kill to the first acknowledged posting and to the first successful API
  read on the new primary.

``--pitr`` also restores a third cluster from the base backup taken before the load plus the
WAL the primary archived (point-in-time recovery to the last archived segment) and measures the
same figures for it, from the start of the restore.

Run: ``python -m scripts.dr.drill --mode sync|async [--seconds N] [--pitr]``.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from scripts.dr.pgcluster import Cluster, own_dir, primary_settings
from scripts.dr.site import FAST_S, SLOW_S, Reader, Site
from scripts.localnet import free_port

DATABASE = "strongroom"


@dataclass
class Outcome:
    """What one recovery measured (times in seconds; None when it never happened)."""

    name: str
    acked: int  # postings acknowledged before the kill
    missing: int  # of those, absent after recovery (RPO in postings)
    rpo_s: float  # seconds of acknowledged writes lost
    rto_posting_s: float | None
    rto_read_s: float | None
    p50_ms: float | None = None  # commit latency before the kill
    p99_ms: float | None = None
    after: int = 0  # postings acknowledged on the recovered database
    lag_ms: float | None = None  # the standby's largest flush lag, sampled under load
    reads: bool = True  # whether API reads were part of the drill


def seed_client(url: str) -> tuple[str, str]:
    """Create the drill's client and a read-only API key on ``url``: (client id, key)."""
    from sqlalchemy.orm import Session

    from keeper import clients
    from keeper.ledger import Ledger

    with Ledger(url, group_commit=False) as ledger, Session(ledger.engine) as session:
        client = clients.create_client(session, ledger, "DR drill client")
        key = clients.issue_key(session, client.id, (clients.CLIENT_READ,), label="dr drill")
        return client.id, key.api_key


def missing_acks(url: str, acks: Mapping[str, object]) -> list[str]:
    """The acknowledged transfer ids that ``url``'s ledger does not hold."""
    from keeper.ledger import client_postings, make_engine

    engine = make_engine(url)
    try:
        found = client_postings(engine, acks)
    finally:
        engine.dispose()
    return sorted(set(acks) - set(found))


def percentile_ms(sorted_us: list[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of sorted microseconds, in milliseconds."""
    if not sorted_us:
        return None
    return sorted_us[min(len(sorted_us) - 1, int(q * len(sorted_us)))] / 1000


def recover(name: str, site: Site, reader: Reader | None, acks: dict[str, tuple[float, int]],
            killed_at: float, since: float, settle_s: float) -> Outcome:
    """Start ``site`` (writer and API on the recovered database), wait for its first posting
    and read, let it run ``settle_s``, and count the acknowledged postings it lacks. RTO counts
    from ``since`` (the kill, or the start of a restore), RPO up to ``killed_at``."""
    site.start()
    site.wait_up()
    if reader is not None:
        reader.url = site.api_url
        deadline = time.monotonic() + 30
        while reader.first_ok_after(since) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        reader.interval_s = SLOW_S
    time.sleep(settle_s)
    lost = missing_acks(site.db_url, acks)
    first_ack = site.log.first_at()
    first_read = None if reader is None else reader.first_ok_after(since)
    return Outcome(
        name, len(acks), len(lost),
        round(killed_at - min(acks[t][0] for t in lost), 3) if lost else 0.0,
        None if first_ack is None else first_ack - since,
        None if first_read is None else first_read - since,
        after=len(site.log.acks), reads=reader is not None)


def run_drill(mode: str, workdir: Path, *, seconds: float = 10.0, rate: float = 200.0,
              pitr: bool = False, archive_timeout_s: int = 10, settle_s: float = 1.0,
              api: bool = True, progress: Callable[[str], None] | None = None) -> list[Outcome]:
    """Run the drill in ``workdir`` (wiped first); return the failover outcome (and the
    restore's with ``pitr``). Every cluster and process it started is stopped on return (their
    files and logs stay in ``workdir``).
    ``api`` False leaves the API and its reads out (the database and the writer only).
    ``progress`` receives a line per step, with the seconds since the start."""
    from keeper.schema import upgrade_all

    began = time.monotonic()

    def step(what: str) -> None:
        if progress is not None:
            progress(f"[{time.monotonic() - began:6.2f}s] {what}")

    if mode not in ("sync", "async"):
        raise ValueError("mode is sync or async")
    shutil.rmtree(workdir, ignore_errors=True)
    root, wal = workdir / "pg", own_dir(workdir / "backups" / "wal")
    base = workdir / "backups" / "base"
    clusters: list[Cluster] = []
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: [c.stop("immediate") for c in clusters])  # files kept to look at
        primary = Cluster(root, "primary", free_port())
        clusters.append(primary.init(primary_settings(wal, None, archive_timeout_s)).start())
        step(f"primary up on port {primary.port}")
        url = primary.create_database(DATABASE)
        upgrade_all(url)
        client_id, api_key = seed_client(url)
        step("every domain migrated, drill client created")
        site = Site(workdir / "site-a", url, client_id, "a", free_port() if api else None, rate)
        stack.callback(site.stop)
        site.start_api()  # its start-up overlaps the standby's creation; nothing is measured yet
        if pitr:
            primary.base_backup(base)
        standby = primary.make_standby("standby", free_port(), primary_settings(
            wal, None, archive_timeout_s), no_sync=True)  # promoted, it runs alone: no sync peer
        clusters.append(standby.start())
        if mode == "sync":
            primary.set_synchronous("standby")
        primary.wait_replica("standby", sync=mode == "sync")
        step(f"standby streaming on port {standby.port} ({mode})")

        site.start_writer()  # the writer posts only once the standby is attached
        site.wait_up()
        step("writer posting and API serving on the primary; load running")
        reader = Reader(site.api_url, api_key) if api else None
        if reader is not None:
            reader.start()
            stack.callback(reader.stop)
        lag = sample_lag(primary, "standby", seconds)

        killed_at = time.monotonic()
        if reader is not None:
            reader.interval_s = FAST_S  # until the first read on the new primary
        primary.kill()
        site.kill()
        acks = dict(site.log.acks)
        step(f"primary site killed ({len(acks)} postings acknowledged)")
        standby.promote()
        step("standby promoted")
        new_site = Site(workdir / "site-b", standby.url(DATABASE), client_id, "b",
                        free_port() if api else None, rate)
        stack.callback(new_site.stop)
        failover = recover(f"failover ({mode})", new_site, reader, acks, killed_at, killed_at,
                           settle_s)
        lat = site.log.latencies_us()
        failover.p50_ms, failover.p99_ms = percentile_ms(lat, 0.5), percentile_ms(lat, 0.99)
        failover.lag_ms = lag * 1000
        step("writer and API serving on the promoted standby")
        new_site.stop()
        outcomes = [failover]
        if pitr:
            standby.stop()
            restored = Cluster.restore(root, "restored", free_port(), base, wal, timeline="1")
            clusters.append(restored)
            started = time.monotonic()
            if reader is not None:
                reader.interval_s = FAST_S
            restored.start()
            while restored.in_recovery():
                time.sleep(0.05)
            step("restored from base backup + archived WAL")
            site_c = Site(workdir / "site-c", restored.url(DATABASE), client_id, "c",
                          free_port() if api else None, rate)
            stack.callback(site_c.stop)
            outcomes.append(recover("restore (base + WAL)", site_c, reader, acks, killed_at,
                                    started, settle_s))
        return outcomes


def sample_lag(primary: Cluster, standby: str, seconds: float) -> float:
    """Sample the standby's flush lag every 50 ms for ``seconds``; the largest, in seconds."""
    most, end = 0.0, time.monotonic() + seconds
    while time.monotonic() < end:
        most = max(most, primary.replica_flush_lag_s(standby) or 0.0)
        time.sleep(0.05)
    return most


def table(rows: list[Outcome]) -> str:
    """The outcomes as a text table."""
    def fmt(x: float | None, unit: str = "s") -> str:
        return "never" if x is None else f"{x:.2f}{unit}"

    head = (f"{'recovery':<22}{'acked':>7}{'missing':>9}{'RPO':>9}{'RTO posting':>13}"
            f"{'RTO read':>10}{'commit p50':>12}{'p99':>10}{'after':>7}{'lag max':>10}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.name:<22}{r.acked:>7}{r.missing:>9}{fmt(r.rpo_s):>9}"
                     f"{fmt(r.rto_posting_s):>13}{fmt(r.rto_read_s) if r.reads else '-':>10}"
                     f"{'-' if r.p50_ms is None else fmt(r.p50_ms, 'ms'):>12}"
                     f"{'-' if r.p99_ms is None else fmt(r.p99_ms, 'ms'):>10}{r.after:>7}"
                     f"{'-' if r.lag_ms is None else fmt(r.lag_ms, 'ms'):>10}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run one drill and print its table; exit 1 when a synchronous drill lost a posting."""
    from keeper.config import load_settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=("sync", "async"), default="sync")
    parser.add_argument("--seconds", type=float, default=10.0, help="load before the kill")
    parser.add_argument("--rate", type=float, default=200.0, help="postings/s offered")
    parser.add_argument("--pitr", action="store_true", help="also restore base backup + WAL")
    parser.add_argument("--archive-timeout", type=int, default=10,
                        help="seconds after which the primary archives a partial segment")
    parser.add_argument("--no-api", action="store_true", help="database and writer only")
    parser.add_argument("--workdir", type=Path, help="default: <data_dir>/dr/<mode>")
    args = parser.parse_args(argv)
    workdir = args.workdir or load_settings().data_dir / "dr" / args.mode
    rows = run_drill(args.mode, workdir, seconds=args.seconds, rate=args.rate, pitr=args.pitr,
                     archive_timeout_s=args.archive_timeout, api=not args.no_api, progress=print)
    print(table(rows))
    return 1 if args.mode == "sync" and rows[0].missing else 0


if __name__ == "__main__":
    sys.exit(main())
