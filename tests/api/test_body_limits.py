"""Request bodies an outsider sends before any credential is checked: too deep or too big.

FastAPI decodes a JSON body before it runs a route's dependencies (authentication included), and
the API process imports web3/ape tooling, which raises the interpreter's recursion limit to
100,000 (py_ecc, py-evm). A body of ``[[[[...`` then overflowed the C stack of the JSON decoder
and killed the worker (SIGSEGV) for every client: the deep-body test runs the app in a child
process so that a crash is a failed assertion, not a dead test runner.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from api.bodyguard import MAX_BODY_BYTES, MAX_JSON_DEPTH
from keeper.config import ROOT
from strongroom_testkit.apiworld import World

_CHILD = """
import sys
from pathlib import Path
from fastapi.testclient import TestClient
from api.main import create_app
from strongroom_testkit.apiworld import build_world

app = create_app(build_world(Path(sys.argv[1])).settings())
assert sys.getrecursionlimit() >= 100_000, sys.getrecursionlimit()  # the condition that crashed
body = "[" * 300_000 + "]" * 300_000
with TestClient(app) as client:
    for path in ("/v1/transfers", "/stablecoin/notify-deposit", "/api/v2/delegates/"):
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        print(path, r.status_code, r.json()["error"]["code"], flush=True)
"""


def test_a_deeply_nested_body_is_refused_and_the_worker_lives(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    env.pop("STRONGROOM_DEPLOYMENTS_DIR", None)
    run = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path)], capture_output=True,
                         text=True, timeout=120, env=env, cwd=ROOT)
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 3
    for line in lines:
        assert line.split()[1:] == ["422", "validation_error"], line


def test_nesting_up_to_the_limit_still_reaches_the_route(api: TestClient) -> None:
    json_type = {"content-type": "application/json"}
    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    r = api.post("/v1/transfers", content=nested, headers=json_type)
    assert r.status_code == 401  # the route's own authentication answered
    deeper = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    r = api.post("/v1/transfers", content=deeper, headers=json_type)
    assert r.status_code == 422  # refused before anything else, credentials or not
    assert "nested" in r.json()["error"]["message"]


def test_brackets_inside_strings_do_not_count(api: TestClient, world: World) -> None:
    body = '{"to_client_id": "' + "[" * 500 + '", "asset": "USDC", "amount": "1"}'
    r = api.post("/v1/transfers", content=body, headers={**world.alice.headers,
                                                         "content-type": "application/json"})
    assert "nested" not in r.json()["error"]["message"]


def test_a_body_over_the_size_limit_is_refused_unread(api: TestClient, world: World) -> None:
    big = b'{"pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    r = api.post("/v1/transfers", content=big, headers={**world.alice.headers,
                                                        "content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


def test_a_lying_content_length_is_refused(api: TestClient, world: World) -> None:
    r = api.post("/v1/transfers", content=b"{}", headers={
        **world.alice.headers, "content-type": "application/json",
        "content-length": str(MAX_BODY_BYTES + 1)})
    assert r.status_code == 413
