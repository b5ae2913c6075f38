"""Drives a fixed list of orders to their end; run as a subprocess the crash test SIGKILLs.

Every request is idempotent (fixed keys), so a restarted worker re-sends the same requests and
then drives every unfinished order until none is left: ``resume()`` and, with withdrawals, the
sender's ``tick()`` and ``settle_queued()`` (what the ``flows_resume`` and ``chain_sender_tick``
jobs do). It prints ``step`` after each request and each pass that moved something (``wait``
after a pass that waits for blocks). Argument: a
JSON file ``{"db": url, "atlas": url, "api_key": key, "buys": [[client, cents]...], "sells":
[...], "transfers": [[from, to, units]...]}``, with withdrawals also ``"withdrawals": [[client,
to, units]...], "rpc": url, "hsm_dir": path, "vault": address, "bump_after_s": seconds``.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from keeper.compliance import ComplianceService, RuleSet
from keeper.config import Settings
from keeper.flows import OrderService
from keeper.flows.store import open_orders
from keeper.integrations.corebanking import AtlasClient
from keeper.keys.secrets import Secret
from keeper.ledger import Ledger, make_engine
from keeper.prices import StaticPrices


def vault_payer(cfg: dict[str, Any], engine: Engine, ledger: Ledger) -> Any:
    """Withdrawals sent from the token's "eth-hot" key, as ``keeper.flows.vault_withdrawals``
    builds them (None without a vault in ``cfg``)."""
    if not cfg.get("vault"):
        return None
    from web3 import HTTPProvider, Web3

    from keeper.chain import SenderConfig, TxSender, VaultWithdrawals
    from keeper.keys import Keyring
    from keeper.keys.hsm import ensure_local_token

    ring = Keyring.from_hsm(ensure_local_token(Path(cfg["hsm_dir"])), labels=("eth-hot",))
    w3 = Web3(HTTPProvider(cfg["rpc"], request_kwargs={"timeout": 10}))
    sender = TxSender(engine, w3, ring, "eth-hot",
                      SenderConfig(max_fee_wei=300 * 10**9, bump_after_s=cfg["bump_after_s"]),
                      on_alert=ledger.raise_alert)
    return VaultWithdrawals(sender, cfg["vault"])


def main(path: str) -> None:
    cfg = json.loads(open(path).read())  # noqa: SIM115, PTH123
    engine = make_engine(cfg["db"])
    ledger = Ledger(engine, group_commit=False)
    bank = AtlasClient(cfg["atlas"], Secret(cfg["api_key"]))
    payer = vault_payer(cfg, engine, ledger)
    svc = OrderService(engine, ledger, compliance=ComplianceService(engine, RuleSet.load()),
                       bank=bank, issuer=None, prices=StaticPrices({}, datetime.now(UTC)),
                       settings=Settings(), sender=payer)
    for n, (client, cents) in enumerate(cfg["buys"]):
        svc.buy(client, "USDC", cents, idempotency_key=f"buy-{n}")
        print("step", flush=True)
    for n, (client, units) in enumerate(cfg["sells"]):
        svc.sell(client, "USDC", units, idempotency_key=f"sell-{n}")
        print("step", flush=True)
    for n, (src, dst, units) in enumerate(cfg["transfers"]):
        svc.transfer(src, dst, "USDC", units, idempotency_key=f"transfer-{n}")
        print("step", flush=True)
    for n, (client, to, units) in enumerate(cfg.get("withdrawals", [])):
        svc.withdraw(client, "USDC", to, units, idempotency_key=f"withdraw-{n}")
        print("step", flush=True)
    while True:
        moved = svc.resume()
        if payer is not None:
            moved += len(payer.sender.tick()) + svc.settle_queued()
        if moved:
            print("step", flush=True)
            continue
        if payer is None:
            break
        with engine.connect() as conn:
            if not open_orders(conn):
                break
        print("wait", flush=True)
        time.sleep(0.2)  # waiting for blocks
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
