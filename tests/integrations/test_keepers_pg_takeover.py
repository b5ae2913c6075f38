"""Several keeper processes (``python -m keeper.jobs run``) on one PostgreSQL database while
deposits arrive on the chain: every job slot runs once, every deposit is credited once; the
leader SIGKILLed is replaced within a few leases; a leader only paused (SIGSTOP) and resumed
after a takeover writes nothing late (fenced), and stands by."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from keeper.chain import vault_deposit_eth
from keeper.jobs import recorded_runs
from keeper.ledger import Ledger
from scripts.deployments import deploy_system, local_config
from strongroom_testkit.dbtemplate import create_migrated

pytestmark = [pytest.mark.fork, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]
TTL = 1.0  # jobs_lease_seconds of the keepers
LIVENESS = 20.0  # how long a takeover may take (a few leases) before the test calls it lost
JOBS = "follow,expire_holds,alerts_dispatch"
WEI = 10**15


def ref(n: int) -> bytes:
    return n.to_bytes(32, "big")


def sessions(engine) -> str:
    """What every other session of the database is doing (shown when a wait times out)."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT pid, state, wait_event_type, wait_event, left(query, 100) FROM "
            "pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        return "\n".join(" | ".join(str(v) for v in r) for r in rows)


def wait(cond: Callable[[], bool], what: str, timeout: float, logs: list[Path],
         engine=None) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in logs)
            db = sessions(engine) if engine is not None else ""
            raise AssertionError(f"timed out waiting for {what}\n{tails}\n--- sessions\n{db}")
        time.sleep(0.1)


class Keepers:
    """Keeper processes on one database and chain, each logging to its own file."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp, self.env = tmp, env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = self.tmp / f"keeper{len(self.procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "keeper.jobs", "run", "--only", JOBS],
                                    cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        self.logs.append(log)
        return proc

    def log_of(self, proc: subprocess.Popen[bytes]) -> str:
        return self.logs[self.procs.index(proc)].read_text()

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
            p.wait()


def leader_pid(engine) -> int | None:
    with engine.connect() as conn:
        holder = conn.execute(text("SELECT holder FROM ledger_leases WHERE name = "
                                   "'jobs:scheduler' AND expires_at > now()")).scalar()
    return None if holder is None else int(holder.split(":")[1])


def test_keepers_on_one_postgres_run_each_slot_once_and_credit_each_deposit_once(
        accounts, project, w3, rpc_url, pg_cluster, tmp_path):
    chain_id = int(w3.eth.chain_id)
    deployments = tmp_path / "deployments"
    deployments.mkdir()
    record = deploy_system(accounts[0], local_config(), path=deployments / f"{chain_id}.json")
    vault = project.Vault.at(record["addresses"]["vault"])
    url = create_migrated(pg_cluster.url(), "keepers_takeover")
    ledger = Ledger(url, group_commit=False)
    clients = [f"k{c}" for c in range(3)]
    for c, client in enumerate(clients):
        ledger.register_client_ref(ref(800 + c), client)
    expected: dict[str, int] = defaultdict(int)
    made = [0]

    def deposit(n: int) -> None:  # the load: deposits arriving while the keepers run
        for _ in range(n):
            c = made[0] % 3
            made[0] += 1
            w3.eth.send_transaction({"from": accounts[5 + c].address, "to": vault.address,
                                     "value": made[0] * WEI, "data": vault_deposit_eth(ref(800 + c))})
            expected[clients[c]] += made[0] * WEI

    def all_credited() -> bool:
        return ledger.count_source_postings("vault") == made[0]

    env = {**os.environ, "STRONGROOM_DB_URL": url, "STRONGROOM_RPC_URL": rpc_url,
           "STRONGROOM_CHAIN_ID": str(chain_id), "STRONGROOM_CONFIRMATIONS": "0",
           "STRONGROOM_DEPLOYMENTS_DIR": str(deployments), "STRONGROOM_DATA": str(tmp_path),
           "STRONGROOM_JOBS_LEASE_SECONDS": str(TTL), "PYTHONPATH": str(ROOT)}
    keepers = Keepers(tmp_path, env)
    try:
        first = [keepers.start(), keepers.start(), keepers.start()]  # one leads, two stand by
        deposit(4)
        wait(all_credited, "the first deposits", 60, keepers.logs)  # includes start-up
        killed = next(p for p in first if p.pid == leader_pid(ledger.engine))
        killed.send_signal(signal.SIGKILL)  # the leader dies mid-run, leases held
        killed.wait()
        deposit(4)
        wait(all_credited, "the standby to take over and credit", LIVENESS, keepers.logs, ledger.engine)
        paused_pid = leader_pid(ledger.engine)
        paused = next(p for p in keepers.procs if p.pid == paused_pid)
        paused.send_signal(signal.SIGSTOP)  # the leader stalls (GC pause, VM migration...)
        stalled_at = time.time()
        deposit(4)
        wait(all_credited, "a takeover from the paused leader", LIVENESS, keepers.logs, ledger.engine)
        seen = len(keepers.log_of(paused))
        paused.send_signal(signal.SIGCONT)  # it wakes up believing it still leads
        wait(lambda: "lost the scheduler lease" in keepers.log_of(paused)[seen:],
             "the resumed keeper to notice its lease is gone", LIVENESS, keepers.logs, ledger.engine)
        deposit(3)
        wait(all_credited, "the last deposits", LIVENESS, keepers.logs, ledger.engine)
        for p in keepers.procs:
            if p is not killed:
                p.send_signal(signal.SIGTERM)
        assert [p.wait(timeout=60) for p in keepers.procs if p is not killed] == [0, 0]
    finally:
        keepers.stop()
    # every deposit credited once, to its client; the books balance
    assert ledger.count_source_postings("vault") == made[0] == 15
    assert {c: ledger.balance(ledger.client_account(c, "ETH")).credit_balance
            for c in clients} == expected
    assert ledger.verify_invariants() == []
    # every slot claimed once; in each job's slot order the fencing token never goes back
    runs = recorded_runs(ledger.engine)
    assert len({(r.job, r.slot) for r in runs}) == len(runs)
    for job in JOBS.split(","):
        tokens = [r.token for r in runs if r.job == job]
        assert tokens == sorted(tokens), job
    holders = {r.holder.split(":")[1] for r in runs}
    assert {str(killed.pid), str(paused_pid)} <= holders and len(holders) >= 2
    assert not [r for r in runs if r.status == "running"]
    # the paused leader's run interrupted by the stall never finished as done late
    mine = [r for r in runs if r.holder.split(":")[1] == str(paused_pid)]
    assert [r for r in mine if r.started_at.timestamp() > stalled_at] == []  # claimed nothing
    takeover = min(r.started_at for r in runs if r.holder.split(":")[1] != str(paused_pid)
                   and r.started_at.timestamp() > stalled_at)
    assert [r for r in mine if r.status == "done" and r.finished_at > takeover] == []
    with ledger.engine.connect() as conn:
        starts = conn.execute(text("SELECT count(*) FROM audit_records WHERE body LIKE "
                                   "'%jobs.run.start%'")).scalar()
    assert starts == len(runs)  # one audited claim per recorded run
    ledger.close()
