"""Rate limits: per client (and per address without a valid credential), 429 with
``Retry-After``, ``RateLimit-*`` headers on every answer, counters shared through the database by
separate API processes (SQLite file and PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import keeper.clients as clients
from api.main import create_app
from keeper.auth import RateLimiter
from keeper.ledger import Ledger, make_engine
from strongroom_testkit import free_port
from strongroom_testkit.apiworld import World
from strongroom_testkit.dbtemplate import migrate_fresh

ROOT = Path(__file__).resolve().parents[2]
FLUSH_S = 0.1  # the API processes' rate_limit_flush_s: how long a count stays in one process


class Clock:
    """A settable clock for the limiter (seconds since the epoch)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_limiter_counts_per_bucket_and_window(database: Callable[[str], str]) -> None:
    url = database("ratelimit", migrated=True)
    engine = make_engine(url)
    clock = Clock(1_000_020.0)  # the start of a window that ends at 1_000_080
    limiter = RateLimiter(engine, 3, clock=clock)
    try:
        got = [limiter.hit("client:a") for _ in range(4)]
        assert [d.allowed for d in got] == [True, True, True, False]
        assert [d.remaining for d in got] == [2, 1, 0, 0]
        assert {d.reset_s for d in got} == {60} and {d.limit for d in got} == {3}
        assert limiter.hit("client:b").remaining == 2  # buckets are independent
        clock.now = 1_000_080.5  # next window: a fresh allowance
        assert limiter.hit("client:a").remaining == 2
        clock.now = 1_000_079.0  # a process whose clock lags never moves the window back
        late = limiter.hit("client:a")
        assert late.remaining == 1 and late.reset_s == 61  # the stored window ends at 1_000_140
    finally:
        limiter.close()
        engine.dispose()


def test_api_answers_429_with_retry_after_and_headers(world: World) -> None:
    settings = world.settings().model_copy(update={"rate_limit_per_minute": 3})
    with TestClient(create_app(settings)) as api:
        answers = [api.get("/v1/balances", headers=world.alice.headers) for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert [r.headers["ratelimit-remaining"] for r in answers] == ["2", "1", "0", "0"]
        assert {r.headers["ratelimit-limit"] for r in answers} == {"3"}
        refused = answers[-1]
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["retry-after"] == refused.headers["ratelimit-reset"]
        # a refused request was not served: a 403/404 would say otherwise; Bob is unaffected
        assert api.get("/v1/me", headers=world.bob.headers).status_code == 200
        # without a credential the address is the bucket: bad keys are limited too
        anon = [api.get("/v1/me", headers={"Authorization": "Bearer sr_nope"}) for _ in range(4)]
        assert [r.status_code for r in anon] == [401, 401, 401, 429]
        assert api.get("/v1/me", headers=world.alice.headers).status_code == 429


def _seed(url: str) -> dict[str, str]:
    """Migrate ``url`` and give one client an API key; its Authorization header."""
    migrate_fresh(url)
    lg = Ledger(url, group_commit=False)
    try:
        with Session(lg.engine) as s:
            client = clients.create_client(s, lg, "Shared Limits Ltd")
            key = clients.issue_key(s, client.id)
    finally:
        lg.close()
    return {"Authorization": f"Bearer {key.api_key}"}


@pytest.fixture
def two_api_processes(database: Callable[[str], str], tmp_path: Path
                      ) -> Iterator[tuple[list[str], dict[str, str]]]:
    """Two uvicorn processes on one database with a limit of 6 per minute."""
    url = database("shared")
    headers = _seed(url)
    env = {**os.environ, "STRONGROOM_DATA": str(tmp_path), "STRONGROOM_DB_URL": url,
           "STRONGROOM_RATE_LIMIT_PER_MINUTE": "6", "STRONGROOM_CHAIN_ID": "1",
           "STRONGROOM_RATE_LIMIT_FLUSH_S": str(FLUSH_S)}
    env.pop("STRONGROOM_DEPLOYMENTS_DIR", None)
    ports = [free_port(), free_port()]
    procs = [subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port",
         str(p), "--log-level", "warning"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for p in ports]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for proc, base in zip(procs, bases, strict=True):
            for _ in range(600):
                if proc.poll() is not None:
                    raise RuntimeError(f"API process exited: {proc.stderr.read().decode()[-2000:]}")
                try:
                    if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise RuntimeError("API process did not start listening")
        yield bases, headers
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def test_the_limit_holds_across_two_api_processes(
        two_api_processes: tuple[list[str], dict[str, str]]) -> None:
    bases, headers = two_api_processes
    if 60 - time.time() % 60 < 15:  # stay inside one window: counters reset at its end
        time.sleep(60 - time.time() % 60 + 0.5)
    answers = []
    for i in range(10):
        answers.append(httpx.get(f"{bases[i % 2]}/v1/balances", headers=headers, timeout=10))
        # below half the limit a process answers from its own counters, flushed and re-read
        # every FLUSH_S: after that the other process's RateLimit-Remaining follows exactly
        time.sleep(3 * FLUSH_S)
    assert [r.status_code for r in answers] == [200] * 6 + [429] * 4
    assert [r.headers["ratelimit-remaining"] for r in answers[:6]] == ["5", "4", "3", "2", "1",
                                                                       "0"]
    assert all("retry-after" in r.headers for r in answers[6:])


@pytest.mark.sqlite_only(reason="SQLite's synchronous setting")
def test_cheap_counters_never_weaken_the_ledgers_durability(tmp_path: Path) -> None:
    """The limiter's SQLite connections skip the fsync; the shared engine's keep FULL."""
    url = f"sqlite:///{tmp_path / 'durable.db'}"
    migrate_fresh(url)
    engine = make_engine(url)
    limiter = RateLimiter(engine, 10)
    try:
        assert limiter.hit("client:x").remaining == 9
        with limiter.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql(
                "SELECT count FROM auth_rate_limits WHERE bucket = 'client:x'").scalar() == 1
    finally:
        limiter.close()
        engine.dispose()
