"""The ops API test world: the API test world (``apiworld``), an ``ops`` key and a
``client_read`` key of the same client, and a TestClient over the app (one per module)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

import keeper.clients as clients
from api.main import create_app
from keeper.ledger import make_engine
from strongroom_testkit.apiworld import World, build_world


@dataclass
class OpsApi:
    """The API over ``world`` with an ops key (``ops``) and a read-only key (``read``)."""

    api: TestClient
    world: World
    engine: Engine
    ops: dict[str, str]
    read: dict[str, str]


def ops_api(data_dir: Path) -> Iterator[OpsApi]:
    """A fresh world, its keys and the app on it (rate limit out of the way)."""
    world = build_world(data_dir)
    engine = make_engine(world.url)
    with Session(engine) as s:
        ops = clients.issue_key(s, world.alice.client.id, [clients.OPS]).api_key
        read = clients.issue_key(s, world.alice.client.id, [clients.CLIENT_READ]).api_key
    app = create_app(world.settings().model_copy(update={"rate_limit_per_minute": 10**6}))
    try:
        with TestClient(app) as api:
            yield OpsApi(api, world, engine, {"Authorization": f"Bearer {ops}"},
                         {"Authorization": f"Bearer {read}"})
    finally:
        engine.dispose()
