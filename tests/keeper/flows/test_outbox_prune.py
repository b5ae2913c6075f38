"""The flows outbox keeps each order's state changes until a relay has delivered them; the
``flows_outbox_prune`` job deletes only rows relayed longer ago than the retention, in batches,
never one that was not relayed (whatever its age)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import import_module
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select

from keeper.flows import mark_relayed, prune_outbox
from keeper.flows.models import OutboxRow
from keeper.jobs.catalog import JOBS
from keeper.jobs.scheduler import JobRun

USDC = 10**6
_O = OutboxRow.__table__.c


def outbox_ids(world: Any) -> list[int]:
    with world.engine.connect() as conn:
        return list(conn.scalars(select(_O.id).order_by(_O.id)))


def test_only_rows_relayed_before_the_retention_are_pruned(world: Any) -> None:
    a, b = world.client(), world.client()
    world.deposit(a, 100 * USDC)
    for n in range(6):
        world.service.transfer(a, b, "USDC", USDC, idempotency_key=f"t{n}")
    ids = outbox_ids(world)
    assert len(ids) >= 6
    now = datetime.now(UTC)
    old, recent, never = ids[: len(ids) // 2], ids[len(ids) // 2:-2], ids[-2:]
    assert mark_relayed(world.engine, old, now=now - timedelta(days=40)) == len(old)
    assert mark_relayed(world.engine, recent, now=now - timedelta(days=1)) == len(recent)
    assert mark_relayed(world.engine, old, now=now) == 0  # relayed once: the first time stands
    with world.engine.begin() as conn:  # a row never relayed, however old, stays
        conn.execute(OutboxRow.__table__.update().where(_O.id.in_(never))
                     .values(created_at=now - timedelta(days=400)))
    assert prune_outbox(world.engine, retention=timedelta(days=30), now=now, batch=2) == len(old)
    assert outbox_ids(world) == recent + never
    assert prune_outbox(world.engine, retention=timedelta(days=30), now=now) == 0
    assert world.service.get(a, world.service.transfer(
        a, b, "USDC", USDC, idempotency_key="t0").id).state == "completed"  # orders untouched
    world.sound()


def test_the_prune_job_runs_from_the_catalog(world: Any) -> None:
    [job] = [j for j in JOBS if j.name == "flows_outbox_prune"]
    module, name = job.func.split(":")
    run = getattr(import_module(module), name)
    a, b = world.client(), world.client()
    world.deposit(a, 10 * USDC)
    world.service.transfer(a, b, "USDC", USDC, idempotency_key="t")
    ids = outbox_ids(world)
    mark_relayed(world.engine, ids, now=datetime.now(UTC) - timedelta(days=365))
    host = SimpleNamespace(settings=world.settings, ledger=world.ledger)
    assert run(JobRun(host, job.name, datetime.now(UTC))) == len(ids)
    with world.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(OutboxRow.__table__)) == 0
    assert run(JobRun(host, job.name, datetime.now(UTC))) == 0
