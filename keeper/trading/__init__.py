"""Trading: venues, smart order routing, jurisdiction rules, tax lots, best-execution analytics.

Sub-packages, each with its own small public surface:

* ``keeper.trading.types``: the shared vocabulary (markets, books, orders, fills, the CCXT-shaped
  ``Venue`` interface and CCXT's error classes); integer amounts only.
* ``keeper.trading.venues``: venue clients (the local simulators' HTTP API) and the simulators'
  matching engine.
* ``keeper.trading.routing``: the smart order router (split by depth, fees and latency; failover;
  price-consensus exclusion) and its persisted executions.
* ``keeper.trading.jurisdiction``: per-jurisdiction rules as data, checked before any child order.
* ``keeper.trading.taxlots``: per-client tax lots (FIFO/LIFO/HIFO), realised and unrealised gains.
* ``keeper.trading.bestex``: best-execution analytics and compliance reports.

The trading tables (``trading_*``) are reached only through these packages.
"""
