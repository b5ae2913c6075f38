"""Pooling runs without a chain: the plan is recorded once (rows, intents, audit) before any send,
overlapping live runs and foreign wallets are refused changing nothing, dry runs send nothing,
deposit keys come only from the wallet's own wrapped seed."""

from __future__ import annotations

import io
import json
import shutil

import pytest
from sqlalchemy import func, select

from keeper.audit import AuditTrail
from keeper.audit import upgrade as audit_upgrade
from keeper.keys.hd import AddressRegistry
from keeper.keys.hsm import HsmSeedWrapper, ensure_local_token
from keeper.ledger.db import make_engine
from keeper.treasury.migrate import upgrade as treasury_upgrade
from keeper.treasury.moves import Holding
from keeper.treasury.pooling import DepositKeys, PoolCosts, PoolRunner, plan_pool
from keeper.treasury.pooling.models import PoolRun, PoolTx
from strongroom_testkit.dbtemplate import fresh_url
from strongroom_testkit.treasury_pooling import deposit_wallet

ETHER, USD = 10**18, 10**6
COSTS = PoolCosts(max_fee_wei=10**9, prices_cents={"ETH": 300_000, "USDC": 100})
DEST = "0x00000000000000000000000000000000000c0ffe"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    if shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2-util not installed (apt softhsm2)")
    tmp = tmp_path_factory.mktemp("pool-runs")
    hsm = ensure_local_token(tmp)
    url = fresh_url(tmp / 'runs.db')
    treasury_upgrade(url)
    audit_upgrade(url)
    engine = make_engine(url)
    registry = AddressRegistry(engine)
    registry.create_schema()
    wrapper = HsmSeedWrapper(hsm)
    a = deposit_wallet(registry, wrapper, "wa", 4)
    b = deposit_wallet(registry, wrapper, "wb", 2)
    yield engine, registry, wrapper, a, b
    engine.dispose()


def _plan(addresses):
    return plan_pool([Holding(x, w, "hot", units) for w in addresses
                      for x, units in (("ETH", ETHER), ("USDC", 50 * USD))], DEST, COSTS)


def _count(engine, model, **where):
    with engine.connect() as conn:
        q = select(func.count()).select_from(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return conn.scalar(q)


def test_a_run_is_recorded_once_before_any_send(world):
    engine, registry, wrapper, a, _ = world
    keys = DepositKeys(registry, wrapper, wallet="wa", seed_name="wa-seed")
    runner = PoolRunner(engine, None, keys)
    plan = _plan(a[:2])
    assert runner.start("r1", plan, COSTS) is True
    assert runner.start("r1", _plan(a[:1]), COSTS) is False  # never re-planned
    rows = runner.transactions("r1")
    assert [(r["kind"], r["wallet"], r["asset"], r["units"], r["state"]) for r in rows] == [
        (p.kind, p.move.source.lower(), p.move.asset, p.move.units, "planned") for p in plan.moves]
    with engine.connect() as conn:
        intents = conn.scalars(select(PoolTx.intent_id).where(PoolTx.run_id == "r1")).all()
    assert f"pool:r1:token:{a[0]}:USDC" in intents and len(set(intents)) == len(intents)
    out = io.StringIO()
    AuditTrail(engine).export(out)
    records = [json.loads(line)["record"] for line in out.getvalue().splitlines()]
    plan_rec = [r for r in records if r["operation"] == "treasury.pooling.plan"]
    assert plan_rec[0]["params"]["run"] == "r1" and plan_rec[0]["result"]["transactions"] == 4

    # a second live run over a wallet of r1 is refused and records nothing
    with pytest.raises(ValueError, match=f"wallet {a[1]} is in unfinished run r1"):
        runner.start("r2", _plan(a[1:3]), COSTS)
    assert _count(engine, PoolRun, run_id="r2") == 0 and _count(engine, PoolTx, run_id="r2") == 0
    # a dry run over the same wallets is fine, and sends nothing
    dry = PoolRunner(engine, None, keys, dry_run=True)
    assert dry.start("r2-dry", _plan(a[1:3]), COSTS)
    assert dry.advance("r2-dry") == {"planned": 4}
    # a disjoint live run is fine
    assert runner.start("r3", _plan(a[2:]), COSTS)


def test_foreign_wallets_and_foreign_seeds_are_refused(world):
    engine, registry, wrapper, a, b = world
    keys = DepositKeys(registry, wrapper, wallet="wa", seed_name="wa-seed")
    assert repr(keys) == "DepositKeys(4 addresses)"
    with pytest.raises(ValueError, match="not of HD wallet 'wa'"):
        PoolRunner(engine, None, keys).start("foreign", _plan(b), COSTS)
    assert _count(engine, PoolRun, run_id="foreign") == 0
    with pytest.raises(ValueError, match="does not derive the addresses of HD wallet 'wb'"):
        DepositKeys(registry, wrapper, wallet="wb", seed_name="wa-seed")
    topup = plan_pool([Holding("USDC", a[3], "hot", 500 * USD)], DEST, COSTS, funding="0xfund")
    with pytest.raises(ValueError, match="not paid by this runner's funding key"):
        PoolRunner(engine, None, keys).start("unfunded", topup, COSTS)


def test_cli_topology_report_and_run_status(world, tmp_path, monkeypatch, capsys):
    from keeper.treasury.pooling.__main__ import main

    assert main(["topology"]) == 0
    shipped = json.loads(capsys.readouterr().out)
    assert [w["ok"] for w in shipped] == [True] * 4
    two_regions = {"wallets": [{"wallet": "w", "threshold": 2, "signers": [
        {"signer": "a", "region": "eu", "technology": "hsm"},
        {"signer": "b", "region": "eu", "technology": "cloud_kms"},
        {"signer": "c", "region": "us", "technology": "offline_hardware"}]}]}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(two_regions))
    assert main(["topology", str(bad)]) == 3
    report = json.loads(capsys.readouterr().out)[0]
    assert report["reach_quorum_alone"] == ["region eu"]
    assert "region eu alone reaches quorum (2 of threshold 2: a, b)" in report["violations"]
    bad.write_text("{")
    assert main(["topology", str(bad)]) == 2

    engine, registry, wrapper, a, _ = world
    monkeypatch.setenv("STRONGROOM_DB_URL", str(engine.url))
    monkeypatch.setenv("STRONGROOM_DATA", str(tmp_path))
    keys = DepositKeys(registry, wrapper, wallet="wa", seed_name="wa-seed")
    PoolRunner(engine, None, keys, dry_run=True).start("cli-dry", _plan(a[:1]), COSTS)
    capsys.readouterr()
    assert main(["status", "cli-dry"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["state"]) for r in rows] == [("token", "planned"), ("native", "planned")]
    assert rows[0]["units"] == str(50 * USD)
    assert main(["status", "nope"]) == 2


def test_runs_on_both_databases(world, database):
    """The run tables on SQLite and PostgreSQL: wei amounts beyond 64 bits, the overlap check."""
    _, registry, wrapper, a, _ = world
    url = database("pool_runs")
    treasury_upgrade(url)
    audit_upgrade(url)
    engine = make_engine(url)
    keys = DepositKeys(registry, wrapper, wallet="wa", seed_name="wa-seed")
    runner = PoolRunner(engine, None, keys)
    big = plan_pool([Holding("ETH", a[0], "hot", 10**24)], DEST, COSTS)  # 1M ETH in wei > 2^63
    assert runner.start("big", big, COSTS)
    assert runner.transactions("big")[0]["units"] == big.moves[0].move.units > 2**63
    with pytest.raises(ValueError, match="unfinished run big"):
        runner.start("again", big, COSTS)
    engine.dispose()


def test_overlapping_runs_started_at_once_record_only_one(world, database):
    import threading

    _, registry, wrapper, a, _ = world
    url = database("pool_race")
    treasury_upgrade(url)
    audit_upgrade(url)
    engine = make_engine(url)
    keys = DepositKeys(registry, wrapper, wallet="wa", seed_name="wa-seed")
    plan = _plan(a[:2])
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def start(i: int) -> None:
        runner = PoolRunner(engine, None, keys)
        barrier.wait()
        try:
            runner.start(f"race-{i}", plan, COSTS)
            outcomes.append("recorded")
        except ValueError:
            outcomes.append("refused")

    threads = [threading.Thread(target=start, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["recorded", "refused", "refused", "refused"]
    assert _count(engine, PoolRun) == 1
    engine.dispose()
