"""A local custody partner ("Warp Data") in its own process.

Segregated sub-accounts per client, each with its own on-chain deposit address (keys derived
from the partner's own secret), a chain watcher that credits confirmed ETH/USDC/USDT deposits,
withdrawals it really signs and sends to whitelisted addresses (idempotent per key), balance
and transaction reports with tx hashes, API keys, rate limits (429 + Retry-After), maintenance,
HMAC-signed webhooks and, on an admin switch, wrong or hostile reports (seeded). Run:
``python -m scripts.services.partner --help``. The keeper's side is :mod:`keeper.partners`.
"""
