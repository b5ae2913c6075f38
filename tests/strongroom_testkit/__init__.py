"""Shared test helpers, importable as ``strongroom_testkit`` under ``ape test`` and plain pytest.

pytest puts ``tests/`` on ``sys.path`` (``pythonpath`` in pyproject.toml), so no test edits
``sys.path`` or imports a helper by a bare module name. The package has a unique name because
PyPI's ``pymultihash`` (pulled in by ape) installs a top-level ``tests`` package.

* time: :data:`HOUR`, :data:`DAY`; addresses: :data:`ZERO_ADDRESS` (the asset registry's);
* :func:`free_port` (the local stack's own) for processes a test starts;
* anvil: :func:`mine`, :func:`set_next_timestamp`, :func:`increase_time`, :func:`snapshot` /
  :func:`revert` over a ``web3.Web3`` connected to the fork;
* :mod:`strongroom_testkit.apiworld`: a migrated database with two API clients (API tests).
"""

from __future__ import annotations

from keeper.assets import ZERO_ADDRESS
from scripts.localnet import free_port
from strongroom_testkit.anvil import increase_time, mine, revert, set_next_timestamp, snapshot

HOUR = 3600
DAY = 24 * HOUR

__all__ = ["DAY", "HOUR", "ZERO_ADDRESS", "free_port", "increase_time", "mine", "revert",
           "set_next_timestamp", "snapshot"]
