"""/health shows the follower's lag in blocks and seconds: a stopped crediting is visible."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from keeper.config import Settings
from keeper.ledger import CursorState, Ledger
from strongroom_testkit import increase_time, mine

pytestmark = pytest.mark.fork


def test_health_reports_follower_lag_and_a_stalled_follower(world, w3, rpc_url):
    settings = Settings(data_dir=world.data_dir, database_url=world.url, rpc_url=rpc_url,
                        confirmations=2)
    head = w3.eth.get_block("latest")
    lg = Ledger(world.url, group_commit=False)
    at = CursorState("vault", head["number"], head["hash"].to_0x_hex(), 0, head["timestamp"])
    lg.move_cursor([], expected=None, to=at)
    with TestClient(create_app(settings)) as api:
        body = api.get("/health").json()
        assert body["ok"] is True
        assert body["followers"] == [{"name": "vault", "position": head["number"],
                                      "lag_blocks": 0, "lag_seconds": 0, "stalled": False}]
        increase_time(w3, 600)
        mine(w3, 40)  # the follower stopped: 40 blocks and 10+ minutes of chain time behind
        body = api.get("/health").json()
        (f,) = body["followers"]
        assert f["lag_blocks"] == 40 and f["lag_seconds"] >= 600 and f["stalled"] is True
        assert body["ok"] is False
    lg.close()
