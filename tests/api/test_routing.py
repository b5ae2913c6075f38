"""How the app meets a request. Every documented operation is served by its own route: the
app tries its routers in traffic order (:data:`api.main.ROUTERS`, customer reads first), and no
router earlier in that order may take a path another one documents (the route that served a
request is read back from its audit record, ``api.<METHOD> <route template>``, as an operator
would). The objects built at start-up are frozen out of the garbage collector's full passes."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import threading
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy import text

from api.deps import read_ledger
from api.main import ROUTERS, create_app
from api.routes import balances, transactions
from keeper.ledger import make_engine
from strongroom_testkit.apiworld import World


def _api_operations(world: World) -> list[str]:
    engine = make_engine(world.url)
    try:
        with engine.connect() as conn:
            bodies = conn.execute(text("SELECT body FROM audit_records ORDER BY seq")).scalars()
            return [op for b in bodies
                    if (op := json.loads(b)["record"]["operation"]).startswith("api.")]
    finally:
        engine.dispose()


def test_every_documented_operation_reaches_its_own_route(world: World) -> None:
    app = create_app(world.settings())
    expected = []
    with TestClient(app) as api:
        for template, operations in app.openapi()["paths"].items():
            concrete = re.sub(r"\{[^}]+\}", "x1", template)
            for method in operations:
                api.request(method.upper(), concrete)  # unauthenticated: matched, then refused
                expected.append(f"api.{method.upper()} {template}")
    assert len(expected) > 40
    assert sorted(_api_operations(world)) == sorted(expected)  # reads are audited in batches


def test_the_customer_reads_are_tried_first() -> None:
    assert ROUTERS.index(balances) < 3 and ROUTERS.index(transactions) < 3
    assert len(set(ROUTERS)) == len(ROUTERS)


def test_the_app_hides_its_start_up_objects_from_the_collector(world: World) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        with TestClient(create_app(world.settings())):
            assert gc.get_freeze_count() > 100_000  # modules, routes, models: never collected
    finally:
        gc.unfreeze()


def test_short_reads_run_inline_on_sqlite_and_in_the_pool_on_a_server(world: World) -> None:
    app = create_app(world.settings())
    assert app.state.inline_reads == world.url.startswith("sqlite")

    async def where(inline: bool) -> tuple[str, str]:
        state = SimpleNamespace(inline_reads=inline, ledger="the ledger")
        request = SimpleNamespace(app=SimpleNamespace(state=state))
        ran = await read_ledger(request, lambda ledger, tag: (f"{ledger} {tag}",
                                                              threading.current_thread().name),
                                "x")
        return ran[0], ran[1]

    loop_thread = threading.current_thread().name
    assert asyncio.run(where(True)) == ("the ledger x", loop_thread)
    tag, thread = asyncio.run(where(False))
    assert tag == "the ledger x" and thread != loop_thread
