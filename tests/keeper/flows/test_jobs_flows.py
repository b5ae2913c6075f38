"""The flows jobs of the catalog, run with the order service built from Settings by the one
builder (:func:`keeper.flows.from_settings`, also the API's): an order left waiting for core
banking is finished by ``flows_resume``; without an HSM there is nothing for the sender job."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from keeper.config import Settings
from keeper.flows import from_settings
from keeper.integrations.corebanking import ATLAS_KEY_FILE
from keeper.integrations.issuer import ISSUER_KEY_FILE
from keeper.jobs.builtin import chain_sender_tick, flows_eod_burns, flows_resume
from keeper.jobs.scheduler import JobRun
from keeper.keys.secrets import write_secret_file

USDC = 10**6
World = Any


def flows_settings(world: World, tmp_path: Path, **kw: Any) -> Settings:
    """Settings naming the world's database and ATLAS, vendor keys as 0600 files."""
    secrets = tmp_path / "secrets"
    write_secret_file(secrets / ATLAS_KEY_FILE, world.atlas.api_key)
    write_secret_file(secrets / ISSUER_KEY_FILE, "issuer-" + uuid.uuid4().hex)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"as_of": datetime.now(UTC).isoformat(),
                                  "prices": {"ETH": 300_000, "BTC": 6_000_000}}))
    base = {"database_url": world.engine.url.render_as_string(hide_password=False),
            "atlas_url": world.atlas.url, "issuer_url": "http://127.0.0.1:9",
            "secrets_dir": secrets, "prices_file": prices, "data_dir": tmp_path / "data",
            "deployments_dir": tmp_path / "deployments"}
    return Settings(**{**base, **kw})


def run_of(world: World, settings: Settings, job: str) -> JobRun:
    host = SimpleNamespace(settings=settings, ledger=world.ledger, hsm=None)
    return JobRun(host, job, datetime.now(UTC))


def test_flows_resume_job_finishes_a_buy_that_waited_for_core_banking(world: World,
                                                                       tmp_path: Path) -> None:
    settings = flows_settings(world, tmp_path)
    c = world.client(200_00)
    world.stock(1_000 * USDC)
    world.atlas.stop()
    order = world.service.buy(c, "USDC", 100_00, idempotency_key="b")
    assert order.state == "accepted"  # core banking did not answer: the order waits
    world.atlas.start()
    assert flows_resume(run_of(world, settings, "flows_resume")) == 1
    done = world.service.get(c, order.id)
    assert done.state == "completed" and world.held(c) == 100 * USDC
    assert world.fiat(c) == 200_00 - 100_00 - done.fee_cents
    assert flows_resume(run_of(world, settings, "flows_resume")) == 0  # nothing done twice
    assert world.fiat(c) == 200_00 - 100_00 - done.fee_cents
    world.sound()


def test_without_hsm_or_vendors_the_jobs_have_nothing_to_do(world: World,
                                                            tmp_path: Path) -> None:
    settings = flows_settings(world, tmp_path)
    built = from_settings(settings, world.engine, world.ledger)
    assert built is not None and built.sender is None and built.inventory_address is None
    assert chain_sender_tick(run_of(world, settings, "chain_sender_tick")) == 0
    assert flows_eod_burns(run_of(world, settings, "flows_eod_burns")) == 0
    bare = flows_settings(world, tmp_path, atlas_url="")
    assert from_settings(bare, world.engine, world.ledger) is None
    assert flows_resume(run_of(world, bare, "flows_resume")) == 0
