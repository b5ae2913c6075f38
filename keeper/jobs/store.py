"""APScheduler's SQLAlchemy job store, reading back only jobs this keeper defined.

APScheduler stores each job as a pickle, and unpickling runs whatever the bytes name: anyone
able to write ``jobs_apscheduler_jobs`` could otherwise run code in every keeper. Rows are
therefore read with an unpickler that resolves only trigger classes and ``datetime`` types, and
a job is accepted only if it is one of the defined jobs, pointing at the scheduler's fixed entry
point with its own name as the only argument. A refused row is logged and removed by APScheduler
(and the scheduler writes the defined job again).
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Collection
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import Engine

from keeper.jobs.models import STORE_TABLE

STORED_FUNC = "keeper.jobs.scheduler:scheduled"
_DATETIME = {"datetime", "timedelta", "timezone"}


class _TriggerUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("apscheduler.triggers.") or (module == "datetime"
                                                          and name in _DATETIME):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"stored job refers to {module}.{name}")


class GuardedJobStore(SQLAlchemyJobStore):
    """The persistent job store (table ``jobs_apscheduler_jobs``) accepting only ``allowed``
    job names with the scheduler's own entry point."""

    def __init__(self, engine: Engine, allowed: Collection[str]) -> None:
        super().__init__(engine=engine, tablename=STORE_TABLE)
        self.allowed = frozenset(allowed)

    def _reconstitute_job(self, job_state: bytes) -> Job:
        state = _TriggerUnpickler(io.BytesIO(job_state)).load()
        if not (isinstance(state, dict) and state.get("id") in self.allowed
                and state.get("func") == STORED_FUNC and state.get("args") == (state["id"],)
                and not state.get("kwargs")):
            raise ValueError("stored job is not one of the defined jobs")
        state["jobstore"] = self
        job = Job.__new__(Job)
        job.__setstate__(state)
        job._scheduler = self._scheduler
        job._jobstore_alias = self._alias
        return job
