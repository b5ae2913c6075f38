"""Client webhook endpoints through the API: register (secret once), list, delete, delivery log;
SSRF refusals; client A never sees or touches B's endpoints or deliveries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from keeper.ledger import make_engine
from keeper.notifications import (
    ORDER_COMPLETED,
    WebhookDispatcher,
    create_endpoint,
    enqueue,
    master_secret,
)
from strongroom_testkit import free_port
from strongroom_testkit.apiworld import World

PUBLIC = "https://93.184.216.34/hooks"


def _create(api: TestClient, headers: dict[str, str], url: str = PUBLIC) -> dict:
    r = api.post("/v1/webhooks", headers=headers, json={"url": url})
    assert r.status_code == 201, r.text
    return r.json()


def test_register_list_delete(api: TestClient, world: World) -> None:
    made = _create(api, world.alice.headers)
    assert made["secret"].startswith("whsec_") and made["url"] == PUBLIC
    assert "deposit.credited" in made["events"]
    listed = api.get("/v1/webhooks", headers=world.alice.headers).json()["items"]
    assert [w["id"] for w in listed] == [made["id"]]
    assert "secret" not in listed[0] and made["secret"] not in str(listed)
    assert api.delete(f"/v1/webhooks/{made['id']}", headers=world.alice.headers).status_code == 204
    assert api.get("/v1/webhooks", headers=world.alice.headers).json()["items"] == []
    assert api.delete(f"/v1/webhooks/{made['id']}", headers=world.alice.headers).status_code == 404


@pytest.mark.parametrize("url", [
    "http://93.184.216.34/hooks", "https://127.0.0.1/h", "https://localhost/h",
    "https://169.254.169.254/latest/meta-data", "https://10.0.0.1/", "https://[::1]/",
    "https://user:pw@93.184.216.34/", "file:///etc/passwd", "not a url"])
def test_internal_or_insecure_targets_are_refused(api: TestClient, world: World, url: str) -> None:
    r = api.post("/v1/webhooks", headers=world.alice.headers, json={"url": url})
    assert r.status_code == 422, r.text
    assert api.get("/v1/webhooks", headers=world.alice.headers).json()["items"] == []


def test_endpoint_count_is_capped(api: TestClient, world: World) -> None:
    for _ in range(10):
        _create(api, world.alice.headers)
    r = api.post("/v1/webhooks", headers=world.alice.headers, json={"url": PUBLIC})
    assert r.status_code == 409
    _create(api, world.bob.headers)  # another client's cap is its own


def test_clients_are_isolated(api: TestClient, world: World) -> None:
    a = _create(api, world.alice.headers)
    assert api.get("/v1/webhooks", headers=world.bob.headers).json()["items"] == []
    for method, path in (("DELETE", f"/v1/webhooks/{a['id']}"),
                         ("GET", f"/v1/webhooks/{a['id']}/deliveries")):
        theirs = api.request(method, path, headers=world.bob.headers)
        missing = api.request(method, path.replace(a["id"], "we_nosuchendpoint"),
                              headers=world.bob.headers)
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json() == missing.json()
    # Alice's endpoint survived Bob's attempt
    assert [w["id"] for w in api.get("/v1/webhooks", headers=world.alice.headers).json()["items"]] \
        == [a["id"]]


def test_delivery_log_shows_own_attempts(api: TestClient, world: World) -> None:
    url = f"http://127.0.0.1:{free_port()}/secret-path"  # nothing listens: the attempt fails
    engine = make_engine(world.url)
    try:
        master = master_secret(world.settings().secrets_dir)
        # a loopback target is only possible for the local stack: registered here directly
        made = create_endpoint(engine, world.alice.client.id, url, master=master,
                               allow_loopback=True)
        with engine.begin() as conn:
            enqueue(conn, world.alice.client.id, ORDER_COMPLETED, {"order": "o1"},
                    event_id="order:o1")
            enqueue(conn, world.bob.client.id, ORDER_COMPLETED, {"order": "o2"},
                    event_id="order:o2")
        WebhookDispatcher(engine, master, allow_loopback=True, timeout=2,
                          claim_seconds=5).dispatch_once(datetime.now(UTC))
    finally:
        engine.dispose()
    wid = made.endpoint.id
    log = api.get(f"/v1/webhooks/{wid}/deliveries", headers=world.alice.headers)
    assert log.status_code == 200, log.text
    items = log.json()["items"]
    assert [(i["event_id"], i["attempt"], i["status_code"], i["delivery_status"]) for i in items] \
        == [("order:o1", 1, None, "pending")]
    assert items[0]["error"] == "ConnectError" and "secret-path" not in log.text
    assert api.get(f"/v1/webhooks/{wid}/deliveries", headers=world.bob.headers).status_code == 404


def test_webhook_routes_need_a_key(api: TestClient) -> None:
    assert api.get("/v1/webhooks").status_code == 401
    assert api.post("/v1/webhooks", json={"url": PUBLIC}).status_code == 401
    assert api.delete("/v1/webhooks/we_x").status_code == 401
    assert api.get("/v1/webhooks/we_x/deliveries").status_code == 401
