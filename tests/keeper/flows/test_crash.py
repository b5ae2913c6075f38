"""A worker driving orders is SIGKILLed at random points and restarted until it finishes: every
order ends exactly once (fiat moved once, coins delivered once) and the books reconcile."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from keeper.config import ROOT
from keeper.flows import INVENTORY_CLIENT
from keeper.flows.models import OrderRow

USDC = 10**6
WORKER = Path(__file__).with_name("crash_worker.py")


@pytest.mark.slow
def test_sigkilled_worker_finishes_every_order_exactly_once(world: Any, tmp_path: Path) -> None:
    buyers = [world.client(50_000_00) for _ in range(3)]
    sellers = [world.client() for _ in range(2)]
    world.stock(100_000 * USDC)
    for s in sellers:
        world.deposit(s, 1_000 * USDC)
    buys = [[buyers[n % 3], (n + 1) * 100_00] for n in range(15)]
    sells = [[sellers[n % 2], 50 * USDC] for n in range(6)]
    transfers = [[sellers[0], buyers[0], 10 * USDC] for _ in range(4)]
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"db": world.engine.url.render_as_string(hide_password=False),
                               "atlas": world.atlas.url, "api_key": world.atlas.api_key,
                               "buys": buys, "sells": sells, "transfers": transfers}))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(20)
    kills = 0
    steps = len(buys) + len(sells) + len(transfers)
    for _attempt in range(12):
        proc = subprocess.Popen([sys.executable, str(WORKER), str(cfg)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        if kills < 6:  # kill after a random number of requests, then a random instant more
            target = rng.randint(1, steps)
            seen = 0
            while seen < target and proc.stdout.readline():
                seen += 1
            time.sleep(rng.uniform(0, 0.05))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                kills += 1
                continue
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0 and b"done" in out
        break
    assert kills == 6
    with world.engine.connect() as c:
        states = dict(c.execute(select(OrderRow.state, func.count()).group_by(OrderRow.state)).all())
    assert states == {"completed": len(buys) + len(sells) + len(transfers)}
    paid = {b: sum(c + -(-c * 25 // 10_000) for who, c in buys if who == b) for b in buyers}
    for b in buyers:
        assert world.fiat(b) == 50_000_00 - paid[b]
    bought = sum(c for _, c in buys) * 10_000
    assert world.held(INVENTORY_CLIENT) == 100_000 * USDC - bought + 300 * USDC
    assert world.held(sellers[0]) == 1_000 * USDC - 150 * USDC - 40 * USDC
    assert world.held(sellers[1]) == 1_000 * USDC - 150 * USDC
    assert world.fiat(sellers[0]) == world.fiat(sellers[1]) == 3 * (50_00 - 13)  # fee 12.5 -> 13
    trades = [e for b in buyers + sellers for e in world.bank.history(b) if e.asset]
    assert len(trades) == len(buys) + len(sells)  # one core-banking posting per trade
    world.sound()
