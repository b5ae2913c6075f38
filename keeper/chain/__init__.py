"""Chain mirror: follows vault and token events into the sub-ledger (exactly once, reorg-safe).

Public surface: :class:`Follower`, :class:`FollowerConfig`, and the event topics/decoder module
:mod:`keeper.chain.events`.
"""

from keeper.chain.follower import Follower, FollowerConfig

__all__ = ["Follower", "FollowerConfig"]
