"""Under many concurrent requests the API keeps its database connections: the thread pool that
runs the sync routes is no larger than the engine's pool, so no request opens (and then closes)
an overflow connection. Opening one cost ~3.5 ms of CPU (connect and PRAGMAs): at 1,000
concurrent balance reads the old pool (5 + 10 overflow, 40 threads) opened ~290 of them."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import event

from api.main import create_app
from strongroom_testkit.apiworld import World


def test_concurrent_reads_open_no_connection_beyond_the_pool(world: World) -> None:
    settings = world.settings().model_copy(update={"rate_limit_per_minute": 10**6})
    app = create_app(settings)
    opened: list[Any] = []
    event.listen(app.state.engine, "connect", lambda *_: opened.append(1))

    async def run() -> list[int]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
                answers = await asyncio.gather(*(
                    client.get(path, headers=world.alice.headers)
                    for _ in range(150) for path in ("/v1/balances", "/v1/transactions")))
            return [r.status_code for r in answers]

    statuses = asyncio.run(run())
    assert statuses == [200] * 300
    pool_size = app.state.engine.pool.size()
    assert 0 < len(opened) <= pool_size, f"{len(opened)} connections opened, pool of {pool_size}"
