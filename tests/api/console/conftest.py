"""Console fixtures: one world with logins per module, the app on it and an in-process client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from strongroom_testkit.browser import ConsoleWorld, console_world


@pytest.fixture(scope="module")
def cworld(tmp_path_factory: pytest.TempPathFactory) -> ConsoleWorld:
    """A world with two clients and one login per role (shared by a module's tests)."""
    return console_world(Path(tmp_path_factory.mktemp("console")))


@pytest.fixture(scope="module")
def capp(cworld: ConsoleWorld) -> FastAPI:
    """The API (console included) on the module's world."""
    return create_app(cworld.settings())


@pytest.fixture
def web(capp: FastAPI) -> Iterator[TestClient]:
    """A fresh in-process client (no cookies) per test; redirects are not followed."""
    with TestClient(capp, follow_redirects=False) as client:
        yield client
