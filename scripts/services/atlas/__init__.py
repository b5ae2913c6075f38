"""The local core-banking service ("ATLAS", spec 004 §8.2) in its own process.

Customers with USD accounts, a double-entry fiat ledger (customer deposits, nostro, the
stablecoin settlement account, reserves held for each issuer, fee income, the GL accounts of EOD
batches), wires in, the deposit notification it sends the platform and the GL batch contract it
receives, trade debits/credits and reconciliation reads -- failures included (latency, 500s,
maintenance 503s, seeded). Run it with ``python -m scripts.services.atlas``; the platform talks
to it through :mod:`keeper.integrations.corebanking`.
"""
