"""Drives a fixed list of orders to their end; run as a subprocess the crash test SIGKILLs.

Every request is idempotent (fixed keys), so a restarted worker re-sends the same requests and
then drives every unfinished order with ``resume()`` until none moves. Argument: a JSON file
``{"db": url, "atlas": url, "api_key": key, "buys": [[client, cents]...], "sells": [...],
"transfers": [[from, to, units]...]}``.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

from keeper.compliance import ComplianceService, RuleSet
from keeper.config import Settings
from keeper.flows import OrderService
from keeper.integrations.corebanking import AtlasClient
from keeper.keys.secrets import Secret
from keeper.ledger import Ledger, make_engine
from keeper.prices import StaticPrices


def main(path: str) -> None:
    cfg = json.loads(open(path).read())  # noqa: SIM115, PTH123
    engine = make_engine(cfg["db"])
    ledger = Ledger(engine, group_commit=False)
    bank = AtlasClient(cfg["atlas"], Secret(cfg["api_key"]))
    svc = OrderService(engine, ledger, compliance=ComplianceService(engine, RuleSet.load()),
                       bank=bank, issuer=None, prices=StaticPrices({}, datetime.now(UTC)),
                       settings=Settings())
    for n, (client, cents) in enumerate(cfg["buys"]):
        svc.buy(client, "USDC", cents, idempotency_key=f"buy-{n}")
        print("step", flush=True)
    for n, (client, units) in enumerate(cfg["sells"]):
        svc.sell(client, "USDC", units, idempotency_key=f"sell-{n}")
        print("step", flush=True)
    for n, (src, dst, units) in enumerate(cfg["transfers"]):
        svc.transfer(src, dst, "USDC", units, idempotency_key=f"transfer-{n}")
        print("step", flush=True)
    while svc.resume():
        print("step", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
