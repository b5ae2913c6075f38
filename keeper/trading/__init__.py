"""Trading: venues, smart order routing, jurisdiction rules, tax lots, best-execution analytics.

Sub-packages, each with its own small public surface:

* ``keeper.trading.types``: the shared vocabulary (markets, books, orders, fills, the CCXT-shaped
  ``Venue`` interface and CCXT's error classes); integer amounts only.
* ``keeper.trading.venues``: the venue client over HTTP (``HttpVenue``) and the venue registry;
  the local venue simulators themselves (matching engine, service) are vendor code in
  ``scripts/services/venues``.
* ``keeper.trading.routing``: the smart order router (split by depth, fees and latency; failover;
  price-consensus exclusion) and its persisted executions.
* ``keeper.trading.jurisdiction``: per-jurisdiction rules as data, checked before any child order.
* ``keeper.trading.taxlots``: per-client tax lots (FIFO/LIFO/HIFO), realised and unrealised gains.
* ``keeper.trading.bestex``: best-execution analytics and compliance reports.

The trading tables (``trading_*``) are reached only through these packages.
"""
