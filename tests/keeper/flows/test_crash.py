"""A worker driving orders is SIGKILLed at random points and restarted until it finishes: every
order ends exactly once (fiat moved once, coins delivered once, withdrawals paid once on the
chain) and the books reconcile."""

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

from keeper.chain.events import WITHDRAWAL
from keeper.chain.models import ChainIntent, ChainNonce
from keeper.config import ROOT
from keeper.flows import INVENTORY_CLIENT
from keeper.flows.models import OrderRow
from keeper.flows.withdrawals import op_id

USDC = 10**6
WORKER = Path(__file__).with_name("crash_worker.py")


def run_with_kills(cfg: Path, rng: random.Random, kills: int, most_steps: int,
                   most_wait_s: float = 0.05) -> int:
    """Run the worker on ``cfg``, SIGKILLing it ``kills`` times after a random number (1 to
    ``most_steps``) of its output lines and a random instant (up to ``most_wait_s``) more,
    then let it finish; returns how many kills landed (a worker that finished first is not
    counted)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    landed = 0
    for _attempt in range(2 * kills + 1):
        proc = subprocess.Popen([sys.executable, str(WORKER), str(cfg)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        read = b""
        if landed < kills:
            target = rng.randint(1, most_steps)
            for _ in range(target):
                line = proc.stdout.readline()
                read += line
                if not line:
                    break
            time.sleep(rng.uniform(0, most_wait_s))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                landed += 1
                continue
        # wait, then read what is left through the same buffered reader readline() used:
        # communicate() reads the raw pipe and misses lines readline() already buffered (a
        # worker that finished quickly lost its "done"); the output is far below a pipe's size
        proc.wait(timeout=300)
        out = proc.stdout.read()
        assert proc.returncode == 0 and b"done" in read + out
        return landed
    raise AssertionError("the worker never finished")


def worker_config(world: Any, tmp_path: Path, **orders: Any) -> Path:
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"db": world.engine.url.render_as_string(hide_password=False),
                               "atlas": world.atlas.url, "api_key": world.atlas.api_key,
                               "buys": [], "sells": [], "transfers": [], **orders}))
    return cfg


def order_states(world: Any) -> dict[str, int]:
    with world.engine.connect() as c:
        return dict(c.execute(select(OrderRow.state, func.count()).group_by(OrderRow.state)).all())


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
    cfg = worker_config(world, tmp_path, buys=buys, sells=sells, transfers=transfers)
    steps = len(buys) + len(sells) + len(transfers)
    assert run_with_kills(cfg, random.Random(20), 6, steps) == 6
    assert order_states(world) == {"completed": len(buys) + len(sells) + len(transfers)}
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


@pytest.fixture
def interval_mining(w3: Any) -> Any:
    """A block every 4 s instead of one per transaction: sends wait, and get fee-bumped."""
    w3.provider.make_request("evm_setAutomine", [False])
    w3.provider.make_request("evm_setIntervalMining", [4])
    try:
        yield
    finally:
        w3.provider.make_request("evm_setIntervalMining", [0])
        w3.provider.make_request("evm_setAutomine", [True])


@pytest.mark.fork
@pytest.mark.slow
def test_sigkilled_worker_pays_every_withdrawal_exactly_once(
        chain_world: Any, w3: Any, usdc: Any, rpc_url: str, hot_hsm: Path, tmp_path: Path,
        interval_mining: None) -> None:
    """Killed while withdrawals are signed, sent, fee-bumped and confirmed: after the restarts
    each is paid by exactly one Withdrawal event, the hot key's nonces have no gap (the next
    send is mined) and each client's coins stay held for exactly what was paid."""
    w = chain_world
    owners = [w.client() for _ in range(2)]
    for c in owners:
        w.deposit(c, 1_000 * USDC)
    withdrawals = [[owners[n % 2], w.dest, (n + 1) * 10 * USDC] for n in range(8)]
    before = usdc.balanceOf(w.dest)
    cfg = worker_config(world=w, tmp_path=tmp_path, withdrawals=withdrawals, rpc=rpc_url,
                        hsm_dir=str(hot_hsm), vault=w.vault_contract.address, bump_after_s=0)
    # killed after 1 to 10 lines and up to 0.5 s more: in requests, ticks, bumps, block waits
    landed = run_with_kills(cfg, random.Random(12), 6, len(withdrawals) + 2, most_wait_s=0.5)
    assert landed >= 3
    assert order_states(w) == {"completed": len(withdrawals)}
    with w.engine.connect() as c:
        ids = list(c.scalars(select(OrderRow.id).order_by(OrderRow.created_at)))
        intents = c.execute(select(ChainIntent.state, ChainIntent.nonce)).all()
        stored_next = c.scalar(select(ChainNonce.next_nonce))
    for oid in ids:
        paid = w3.eth.get_logs({"address": w.vault_contract.address, "fromBlock": 0,
                                "toBlock": "latest", "topics": [WITHDRAWAL, op_id(oid)]})
        assert len(paid) == 1, oid
    assert usdc.balanceOf(w.dest) - before == sum(u for _, _, u in withdrawals)
    hot = w.payer.sender.address
    assert {s for s, _ in intents} == {"mined"}
    assert sorted(n for _, n in intents) == list(range(len(intents)))  # one nonce each, no gap
    assert w3.eth.get_transaction_count(hot, "latest") == len(intents) == stored_next
    bumps = sum(w.payer.sender.status(w.payer.intent_id(bytes.fromhex(op_id(o)[2:]))).replacements
                for o in ids)
    assert bumps > 0  # the kills also met fee-bumped replacements
    for c in owners:
        mine = sum(u for who, _, u in withdrawals if who == c)
        bal = w.ledger.balance(w.ledger.client_account(c, "USDC"))
        assert (bal.credit_balance, bal.available) == (1_000 * USDC, 1_000 * USDC - mine)
    for oid in ids:
        assert w.ledger.open_withdrawal_hold_id(op_id(oid)) is not None  # for the follower
    after = w.payer.sender.send("after-the-crashes", w.dest, b"", value=1)
    assert after.nonce == len(intents)
    for _ in range(20):
        if w.payer.sender.tick():
            break
        time.sleep(0.2)
    assert w.payer.sender.status("after-the-crashes").state == "mined"
    w.sound()
