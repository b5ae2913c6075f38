"""A local stablecoin issuer (Circle's role for USDC) in its own process.

It holds its own minter key (a USDC minter on the chain), accepts mints and redemptions over an
API shaped like the issuer's real one, really mints and burns on chain with confirmations,
keeps its records in its own SQLite file, sends HMAC-signed webhooks with retries, and fails on
demand (delays, holds beyond 24 h, declined mints, late or failed fiat payouts, 5xx,
maintenance) deterministically under a seed. Run: ``python -m scripts.services.issuer --help``.
The keeper's client is :mod:`keeper.integrations.issuer`.
"""
