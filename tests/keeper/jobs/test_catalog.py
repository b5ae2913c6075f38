"""Job definitions: validated, deterministic triggers, the store follows the definitions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keeper.jobs import JOBS, JobDef, JobScheduler
from keeper.ledger import Ledger
from strongroom_testkit.dbtemplate import fresh_url

F = "keeper.jobs.builtin:expire_holds"


@pytest.mark.parametrize("kw", [{}, {"every": 5, "cron": {"hour": "1"}}, {"every": 0},
                                {"every": 5, "misfire_grace": 0}])
def test_a_job_needs_exactly_one_valid_schedule(kw):
    with pytest.raises(ValueError, match="job x"):
        JobDef("x", "keeper.jobs.builtin:follow", **kw)


def test_a_job_function_is_named_not_passed():
    with pytest.raises(ValueError, match="module:function"):
        JobDef("x", "follow", every=5)


def test_interval_slots_are_the_same_grid_in_every_process():
    now = datetime(2026, 11, 23, 17, 0, 7, 300000, tzinfo=UTC)
    a = JobDef("x", F, every=5).trigger().get_next_fire_time(None, now)
    b = JobDef("x", F, every=5).trigger().get_next_fire_time(None, now)
    assert a == b == datetime(2026, 11, 23, 17, 0, 10, tzinfo=UTC)
    daily = JobDef("gl", F, cron={"hour": "23", "minute": "55"}).trigger()
    assert daily.get_next_fire_time(None, now) == datetime(2026, 11, 23, 23, 55, tzinfo=UTC)


def test_the_catalog_names_are_unique_and_resolve():
    from apscheduler.util import ref_to_obj

    assert len({j.name for j in JOBS}) == len(JOBS)
    assert all(callable(ref_to_obj(j.func)) for j in JOBS)


def test_a_changed_definition_replaces_the_stored_job_and_a_dropped_one_is_removed(tmp_path):

    url = fresh_url(tmp_path / 'c.db', migrated=True)
    ledger = Ledger(url, group_commit=False)
    try:
        first = JobScheduler(ledger, [JobDef("a", F, every=60), JobDef("b", F, every=60)],
                             ledger, holder="k1", lease_ttl=600)
        assert first.step()
        first.stop()
        second = JobScheduler(ledger, [JobDef("a", F, cron={"minute": "7"})], ledger,
                              holder="k2", lease_ttl=600)
        assert second.step()
        stored = {j.id: str(j.trigger) for j in second._scheduler.get_jobs()}
        second.stop()
    finally:
        ledger.close()
    assert stored == {"a": str(JobDef("a", F, cron={"minute": "7"}).trigger())}


def test_a_job_whose_function_does_not_resolve_is_refused_at_start_up(tmp_path):
    ledger = Ledger(fresh_url(tmp_path / 'c.db'), group_commit=False)
    try:
        with pytest.raises((ImportError, LookupError)):
            JobScheduler(ledger, [JobDef("a", "keeper.jobs.builtin:nope", every=60)], ledger)
    finally:
        ledger.close()
