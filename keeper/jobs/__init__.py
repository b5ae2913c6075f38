"""Scheduled keeper work: one APScheduler across keepers (lease-elected), persistent job store,
per-slot run records; jobs registered by name in :data:`JOBS`.

Public surface: :class:`KeeperJobs`, :class:`JobDef`, :data:`JOBS`, :class:`JobScheduler`,
:class:`JobRun`, :func:`recorded_runs`. A keeper process: ``python -m keeper.jobs run [--only
JOB,...] [--local-hsm]`` (several on one PostgreSQL database: one leads, the others stand by).
"""

from keeper.jobs.catalog import JOBS, JobDef
from keeper.jobs.runner import KeeperJobs
from keeper.jobs.runs import RunRecord, recorded_runs
from keeper.jobs.scheduler import JobRun, JobScheduler

__all__ = ["JOBS", "JobDef", "JobRun", "JobScheduler", "KeeperJobs", "RunRecord", "recorded_runs"]
