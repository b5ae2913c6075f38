"""API fixtures: a fresh world (``strongroom_testkit.apiworld``) per test, the app on it and a TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from strongroom_testkit.apiworld import World, build_world


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    """A fresh world per test (tests may revoke keys or write deployment files)."""
    monkeypatch.delenv("STRONGROOM_DEPLOYMENTS_DIR", raising=False)
    return build_world(tmp_path)


@pytest.fixture
def app(world: World) -> FastAPI:
    """The API on the world's database."""
    return create_app(world.settings())


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    """An in-process HTTP client (lifespan run, so the app's ledger is closed afterwards)."""
    with TestClient(app) as client:
        yield client
