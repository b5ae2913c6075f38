"""Treasury: hot/warm/cold tiers, sweeps, consolidated pooling, distributed custody, rebalancing.

Sub-packages, each with its own small public surface:

* ``keeper.treasury.tiers``: the tier policy (as data), the tier view (where every unit is, share
  of AUM, drift), the daily/weekly sweeps and the hot-ceiling alert.
* ``keeper.treasury.pooling``: consolidation of many deposit wallets into operational wallets
  (never below a wallet's minimum), BTC consolidation PSBTs, and the custody topology policy.
* ``keeper.treasury.rebalance``: the rebalancer (tolerance bands with hysteresis, minimum cost,
  binding constraints reported) and its simulation.

The treasury tables (``treasury_*``) are reached only through these packages.
"""
