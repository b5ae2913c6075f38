"""Scheduled keeper work (APScheduler): chain mirroring and hold expiry.

Public surface: :class:`KeeperJobs`.
"""

from keeper.jobs.runner import KeeperJobs

__all__ = ["KeeperJobs"]
